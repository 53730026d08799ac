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

import sqlalchemy as sa
from alembic import op

import records_service.sqltypes

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finance_instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_pence", records_service.sqltypes.PenceType(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("finance_instalments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_instalments_contract_id"), ["contract_id"], unique=False
        )

    op.create_table(
        "finance_awards",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("awarded_on", sa.Date(), nullable=False),
        sa.Column("decision_record_id", sa.String(length=32), nullable=True),
        sa.Column("recipient", sa.String(length=300), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["decision_record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("contract_id"),
    )
    with op.batch_alter_table("finance_awards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_awards_decision_record_id"), ["decision_record_id"], unique=False
        )

    op.create_table(
        "finance_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("payment_reference", sa.String(length=100), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount_pence", records_service.sqltypes.PenceType(), nullable=False),
        sa.Column("invoice_reference", sa.String(length=100), nullable=True),
        sa.Column("invoice_record_id", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invoice_record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payment_reference"),
    )
    with op.batch_alter_table("finance_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_payments_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_finance_payments_invoice_record_id"), ["invoice_record_id"], unique=False
        )

    op.create_table(
        "finance_recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("recovered_on", sa.Date(), nullable=False),
        sa.Column("amount_pence", records_service.sqltypes.PenceType(), nullable=False),
        sa.Column("decision_record_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["decision_record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("finance_recoveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_recoveries_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_finance_recoveries_decision_record_id"),
            ["decision_record_id"],
            unique=False,
        )

    op.create_table(
        "finance_spend_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("spent_pence", records_service.sqltypes.PenceType(), nullable=True),
        sa.Column("outcomes", sa.Text(), nullable=False),
        sa.Column("return_record_id", sa.String(length=32), nullable=True),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["return_record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("return_record_id"),
    )
    with op.batch_alter_table("finance_spend_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_spend_reports_contract_id"), ["contract_id"], unique=False
        )

    op.create_table(
        "finance_variations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("change_pence", records_service.sqltypes.PenceType(), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("finance_variations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_variations_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_finance_variations_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "transparency_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("copy_record_id", sa.String(length=32), nullable=True),
        sa.Column(
            "recorded_at", records_service.sqltypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["copy_record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_key"),
    )
    with op.batch_alter_table("transparency_publications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transparency_publications_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transparency_publications_copy_record_id"),
            ["copy_record_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("transparency_publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transparency_publications_copy_record_id"))
        batch_op.drop_index(batch_op.f("ix_transparency_publications_contract_id"))

    op.drop_table("transparency_publications")
    with op.batch_alter_table("finance_variations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_variations_record_id"))
        batch_op.drop_index(batch_op.f("ix_finance_variations_contract_id"))

    op.drop_table("finance_variations")
    with op.batch_alter_table("finance_spend_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_spend_reports_contract_id"))

    op.drop_table("finance_spend_reports")
    with op.batch_alter_table("finance_recoveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_recoveries_decision_record_id"))
        batch_op.drop_index(batch_op.f("ix_finance_recoveries_contract_id"))

    op.drop_table("finance_recoveries")
    with op.batch_alter_table("finance_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_payments_invoice_record_id"))
        batch_op.drop_index(batch_op.f("ix_finance_payments_contract_id"))

    op.drop_table("finance_payments")
    with op.batch_alter_table("finance_awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_awards_decision_record_id"))

    op.drop_table("finance_awards")
    with op.batch_alter_table("finance_instalments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_instalments_contract_id"))

    op.drop_table("finance_instalments")
