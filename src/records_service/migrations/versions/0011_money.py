"""Money on the case file and the transparency register.

The award's details, variations, the payment schedule, payments (unique by the
finance system's payment reference, which makes an import idempotent), spend
reported by the provider (at most one report per monitoring return), recoveries of
unspent funds, and the publications recorded under the Specified Information Order.
Every amount is a 64-bit integer of pence.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 07:24:51
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from records_service.migrations.columns import (
    create_indexes,
    drop_indexes,
    recorded,
    references,
)
from records_service.sqltypes import PenceType

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_money_table(
        "finance_instalments",
        [
            _id(),
            _contract_id(),
            sa.Column("due_on", sa.Date(), nullable=False),
            sa.Column("amount_pence", PenceType(), nullable=False),
            sa.Column("note", sa.String(length=300), nullable=True),
        ],
        indexes=("contract_id",),
    )
    _create_money_table(
        "finance_awards",
        [
            _contract_id(),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("awarded_on", sa.Date(), nullable=False),
            _record_id("decision_record_id", nullable=True),
            sa.Column("recipient", sa.String(length=300), nullable=True),
            sa.Column("purpose", sa.Text(), nullable=True),
            sa.Column("conditions", sa.Text(), nullable=True),
            sa.Column("reasons", sa.Text(), nullable=True),
        ],
        record_column="decision_record_id",
        primary_key="contract_id",
        indexes=("decision_record_id",),
    )
    _create_money_table(
        "finance_payments",
        [
            _id(),
            _contract_id(),
            sa.Column("payment_reference", sa.String(length=100), nullable=False),
            sa.Column("paid_on", sa.Date(), nullable=False),
            sa.Column("amount_pence", PenceType(), nullable=False),
            sa.Column("invoice_reference", sa.String(length=100), nullable=True),
            _record_id("invoice_record_id", nullable=True),
            sa.Column("source", sa.String(length=200), nullable=False),
        ],
        record_column="invoice_record_id",
        unique="payment_reference",
        indexes=("contract_id", "invoice_record_id"),
    )
    _create_money_table(
        "finance_recoveries",
        [
            _id(),
            _contract_id(),
            sa.Column("recovered_on", sa.Date(), nullable=False),
            sa.Column("amount_pence", PenceType(), nullable=False),
            _record_id("decision_record_id", nullable=False),
            sa.Column("reason", sa.String(length=1000), nullable=False),
        ],
        record_column="decision_record_id",
        indexes=("contract_id", "decision_record_id"),
    )
    _create_money_table(
        "finance_spend_reports",
        [
            _id(),
            _contract_id(),
            sa.Column("period_start", sa.Date(), nullable=False),
            sa.Column("period_end", sa.Date(), nullable=False),
            sa.Column("spent_pence", PenceType(), nullable=True),
            sa.Column("outcomes", sa.Text(), nullable=False),
            _record_id("return_record_id", nullable=True),
        ],
        record_column="return_record_id",
        unique="return_record_id",
        indexes=("contract_id",),
    )
    _create_money_table(
        "finance_variations",
        [
            _id(),
            _contract_id(),
            sa.Column("decided_on", sa.Date(), nullable=False),
            sa.Column("change_pence", PenceType(), nullable=False),
            _record_id("record_id", nullable=False),
            sa.Column("reason", sa.String(length=1000), nullable=False),
        ],
        record_column="record_id",
        indexes=("contract_id", "record_id"),
    )
    _create_money_table(
        "transparency_publications",
        [
            _id(),
            sa.Column("item_key", sa.String(length=200), nullable=False),
            sa.Column("kind", sa.String(length=20), nullable=False),
            _contract_id(nullable=True),
            sa.Column("published_on", sa.Date(), nullable=False),
            sa.Column("location", sa.String(length=500), nullable=False),
            _record_id("copy_record_id", nullable=True),
        ],
        record_column="copy_record_id",
        unique="item_key",
        indexes=("contract_id", "copy_record_id"),
    )


# Built anew for each table: a column belongs to one table.
def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _contract_id(*, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column("contract_id", sa.Integer(), nullable=nullable)


def _record_id(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def _create_money_table(
    table: str,
    columns: list[sa.Column[Any]],
    *,
    record_column: str | None = None,
    primary_key: str = "id",
    unique: str | None = None,
    indexes: tuple[str, ...],
) -> None:
    """Create a table of the case file's money: its own columns, then who recorded
    the row and when, a key to the contract and (if any) to a record."""
    constraints: list[sa.Constraint] = [references("contract_id", "contracts")]
    if record_column is not None:
        constraints.append(references(record_column, "records"))
    constraints.append(sa.PrimaryKeyConstraint(primary_key))
    if unique is not None:
        constraints.append(sa.UniqueConstraint(unique))
    op.create_table(table, *columns, *recorded(), *constraints)
    create_indexes(table, *indexes)


def downgrade() -> None:
    drop_indexes("transparency_publications", "copy_record_id", "contract_id")
    op.drop_table("transparency_publications")
    drop_indexes("finance_variations", "record_id", "contract_id")
    op.drop_table("finance_variations")
    drop_indexes("finance_spend_reports", "contract_id")
    op.drop_table("finance_spend_reports")
    drop_indexes("finance_recoveries", "decision_record_id", "contract_id")
    op.drop_table("finance_recoveries")
    drop_indexes("finance_payments", "invoice_record_id", "contract_id")
    op.drop_table("finance_payments")
    drop_indexes("finance_awards", "decision_record_id")
    op.drop_table("finance_awards")
    drop_indexes("finance_instalments", "contract_id")
    op.drop_table("finance_instalments")
