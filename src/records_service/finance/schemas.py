"""API shapes of money on a contract: what clients send to record it, and what they get.

Every amount is integer pence, bounded by :mod:`records_service.bounds`; a record
named by an entry (a decision, an invoice, a monitoring return) is given by its id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from records_service.bounds import (
    Identifier,
    Label,
    LongName,
    Note,
    Pence,
    PositivePence,
    Reason,
    SafeDate,
    SignedPence,
    check_text,
)
from records_service.finance.models import AwardKind

# A finance system's payment or invoice reference: letters, digits and a few separators.
PAYMENT_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/._:-]{0,99}$"
PaymentReference = Annotated[
    str, StringConstraints(max_length=100, pattern=PAYMENT_REFERENCE_PATTERN)
]
InvoiceReference = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(check_text)
]
MAX_OUTCOMES = 50
MAX_OUTCOME_FIGURE = 10**12
OutcomeName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(check_text)
]
Outcomes = Annotated[
    dict[OutcomeName, Annotated[int, Field(ge=0, le=MAX_OUTCOME_FIGURE)]],
    Field(max_length=MAX_OUTCOMES),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AwardIn(_Strict):
    """How the contract or grant was awarded. ``awarded_value_pence``, when given,
    sets the contract's awarded value; the grant's details are published in the
    transparency register for a crime and disorder reduction grant."""

    kind: AwardKind = AwardKind.CONTRACT
    awarded_on: SafeDate
    awarded_value_pence: Pence | None = None
    decision_record: Identifier | None = Field(None, description="The award decision record.")
    recipient: LongName | None = None
    purpose: Note | None = None
    conditions: Note | None = None
    reasons: Note | None = None


class AwardPublic(BaseModel):
    """A contract's award."""

    contract: str
    kind: AwardKind
    awarded_on: date
    awarded_value_pence: int | None
    decision_record: str | None
    recipient: str | None
    purpose: str | None
    conditions: str | None
    reasons: str | None
    recorded_at: datetime
    recorded_by: str


class VariationIn(_Strict):
    """A decision that changed the contract's value (negative for a reduction)."""

    decided_on: SafeDate
    change_pence: SignedPence
    record: Identifier = Field(description="Its decision_record or contract_variation record.")
    reason: Reason

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.change_pence == 0:
            raise ValueError("change_pence is 0: a variation changes the value")
        return self


class VariationPublic(BaseModel):
    """A recorded variation."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    decided_on: date
    change_pence: int
    record_id: str
    reason: str
    recorded_at: datetime
    recorded_by: str


class InstalmentIn(_Strict):
    """A planned payment of the payment schedule."""

    due_on: SafeDate
    amount_pence: PositivePence
    note: Label | None = None


class InstalmentPublic(BaseModel):
    """A planned payment."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    due_on: date
    amount_pence: int
    note: str | None
    recorded_at: datetime
    recorded_by: str


class PaymentIn(_Strict):
    """A payment made, by the finance system's payment reference (unique)."""

    payment_reference: PaymentReference = Field(examples=["PAY-2024-00117"])
    paid_on: SafeDate
    amount_pence: PositivePence
    invoice_reference: InvoiceReference | None = None
    invoice_record: Identifier | None = Field(None, description="The invoice record held.")


class InvoiceLink(_Strict):
    """The invoice record of a payment, once it is captured."""

    invoice_record: Identifier


class PaymentPublic(BaseModel):
    """A payment made."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    payment_reference: str
    paid_on: date
    amount_pence: int
    invoice_reference: str | None
    invoice_record_id: str | None
    source: str
    recorded_at: datetime
    recorded_by: str


class SpendIn(_Strict):
    """Spend and outcomes the provider reported for a period; leave ``spent_pence``
    out for a return that gave none."""

    period_start: SafeDate
    period_end: SafeDate
    spent_pence: Pence | None = None
    outcomes: Outcomes = Field(default_factory=dict, examples=[{"people supported": 120}])
    return_record: Identifier | None = Field(None, description="The monitoring return.")

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class SpendPublic(BaseModel):
    """A recorded spend report."""

    id: int
    period_start: date
    period_end: date
    spent_pence: int | None
    outcomes: dict[str, int]
    return_record_id: str | None
    recorded_at: datetime
    recorded_by: str


class RecoveryIn(_Strict):
    """Unspent funds recovered, under the decision that required it."""

    recovered_on: SafeDate
    amount_pence: PositivePence
    decision_record: Identifier
    reason: Reason


class RecoveryPublic(BaseModel):
    """A recorded recovery."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    recovered_on: date
    amount_pence: int
    decision_record_id: str
    reason: str
    recorded_at: datetime
    recorded_by: str


class MoneySummary(BaseModel):
    """A contract's money as at a day: award, variations, schedule, paid, spent, recovered."""

    as_at: date
    award_pence: int = Field(description="The awarded value (0 if none is recorded).")
    variations_pence: int = Field(description="The sum of the variations decided so far.")
    value_pence: int = Field(description="Award plus variations.")
    scheduled_pence: int = Field(description="Every planned instalment.")
    scheduled_to_date_pence: int = Field(description="Instalments due by the day.")
    paid_pence: int
    reported_spent_pence: int
    recovered_pence: int
    unspent_pence: int = Field(description="Paid, less reported spend and recoveries.")
    payments: int
    spend_reports: int
