"""Tables of money on a contract's file; every amount is integer pence (``PenceType``).

Rows are only ever added (an instalment or a payment is never edited in place): a
correction is a variation, a recovery or a new entry, each audited. The one change
allowed later is linking a payment to its invoice record once that is captured.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from records_service.sqltypes import PenceType, UTCDateTime


class AwardKind(StrEnum):
    """What was awarded: a contract, a grant, or a crime and disorder reduction grant
    (which the Specified Information Order publishes with its conditions)."""

    CONTRACT = "contract"
    GRANT = "grant"
    CRIME_AND_DISORDER_GRANT = "crime_and_disorder_grant"


def _record_link(*, nullable: bool = True, unique: bool = False) -> Column[str]:
    return Column(
        String(32), ForeignKey("records.id"), nullable=nullable, unique=unique, index=not unique
    )


def _recorded_at() -> Column[datetime]:
    return Column(UTCDateTime(), nullable=False)


class Award(SQLModel, table=True):
    """How a contract or grant was awarded; its value is the contract's awarded value."""

    __tablename__ = "finance_awards"

    contract_id: int = Field(foreign_key="contracts.id", primary_key=True)
    kind: str = Field(max_length=32)
    awarded_on: date
    decision_record_id: str | None = Field(default=None, sa_column=_record_link())
    recipient: str | None = Field(default=None, max_length=300)
    purpose: str | None = Field(default=None, sa_column=Column(Text))
    conditions: str | None = Field(default=None, sa_column=Column(Text))
    reasons: str | None = Field(default=None, sa_column=Column(Text))
    recorded_at: datetime = Field(sa_column=_recorded_at())
    recorded_by: str = Field(max_length=64)


class Variation(SQLModel, table=True):
    """A decision that changed the contract's value, up (positive) or down."""

    __tablename__ = "finance_variations"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    decided_on: date
    change_pence: int = Field(sa_column=Column(PenceType(), nullable=False))
    record_id: str = Field(sa_column=_record_link(nullable=False))
    reason: str = Field(max_length=1000)
    recorded_at: datetime = Field(sa_column=_recorded_at())
    recorded_by: str = Field(max_length=64)


class Instalment(SQLModel, table=True):
    """A planned payment: the payment schedule is the contract's instalments by date."""

    __tablename__ = "finance_instalments"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    due_on: date
    amount_pence: int = Field(sa_column=Column(PenceType(), nullable=False))
    note: str | None = Field(default=None, max_length=300)
    recorded_at: datetime = Field(sa_column=_recorded_at())
    recorded_by: str = Field(max_length=64)


class Payment(SQLModel, table=True):
    """Money paid to the provider, keyed by the finance system's payment reference."""

    __tablename__ = "finance_payments"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    payment_reference: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    paid_on: date
    amount_pence: int = Field(sa_column=Column(PenceType(), nullable=False))
    invoice_reference: str | None = Field(default=None, max_length=100)
    invoice_record_id: str | None = Field(default=None, sa_column=_record_link())
    source: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_recorded_at())
    recorded_by: str = Field(max_length=64)


class SpendReport(SQLModel, table=True):
    """Spend and outcomes the provider reported for a period, normally in a monitoring
    return; ``spent_pence`` is ``None`` when the return gave outcomes but no spend."""

    __tablename__ = "finance_spend_reports"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    period_start: date
    period_end: date
    spent_pence: int | None = Field(default=None, sa_column=Column(PenceType()))
    # Outcome figures as canonical JSON: {"people supported": 120, ...}.
    outcomes: str = Field(sa_column=Column(Text, nullable=False))
    return_record_id: str | None = Field(default=None, sa_column=_record_link(unique=True))
    recorded_at: datetime = Field(sa_column=_recorded_at())
    recorded_by: str = Field(max_length=64)


class Recovery(SQLModel, table=True):
    """Unspent funds recovered from the provider, under a recorded decision."""

    __tablename__ = "finance_recoveries"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    recovered_on: date
    amount_pence: int = Field(sa_column=Column(PenceType(), nullable=False))
    decision_record_id: str = Field(sa_column=_record_link(nullable=False))
    reason: str = Field(max_length=1000)
    recorded_at: datetime = Field(sa_column=_recorded_at())
    recorded_by: str = Field(max_length=64)
