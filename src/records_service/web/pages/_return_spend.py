"""The upload page's optional fields for a monitoring return: the spend and outcomes it
reports, recorded against that return once it is captured.

They go with exactly one monitoring return on a contract, so they are refused (with
the batch's other errors, before any file is captured) for an upload with none or
several; once the return is captured its spend is recorded by the same service
function as the contract page and the API (audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError

from records_service.auth.models import User
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.finance.schemas import SpendIn
from records_service.finance.service import add_spend
from records_service.runtime.services import Services
from records_service.web.pages._forms import schema_errors
from records_service.web.pages._upload_plan import DateBoxes, UploadPlan
from records_service.web.pages.money import form_outcomes, form_pence

RETURN_TYPE = "monitoring_return"
# The period's days by form field: the label their errors start with, and the words
# for one left blank.
_PERIOD = {
    "spend_period_start": ("Period from", "Enter the first day of the period the return covers"),
    "spend_period_end": ("Period to", "Enter the last day of the period the return covers"),
}


@dataclass(frozen=True)
class ReturnSpend:
    """The upload's spend fields, as typed (the period's days in their three boxes)."""

    period_start: DateBoxes
    period_end: DateBoxes
    spent: str = ""
    outcomes: str = ""

    @property
    def given(self) -> bool:
        """Whether any of them was filled in."""
        typed = self.period_start.given() or self.period_end.given()
        return typed or any(v.strip() for v in (self.spent, self.outcomes))

    def form(self) -> dict[str, str]:
        """The fields by name, as the form shows them again."""
        return {
            **self.period_start.form("spend_period_start"),
            **self.period_end.form("spend_period_end"),
            "spent": self.spent,
            "spend_outcomes": self.outcomes,
        }


def check_return_spend(fields: ReturnSpend, plan: UploadPlan) -> SpendIn | None:
    """The spend to record with the upload's monitoring return, or ``None`` if none was
    given; every problem is added to ``plan.errors`` beside its own field."""
    if not fields.given:
        return None
    returns = [f for f in plan.files if f.record_type == RETURN_TYPE]
    if len(returns) != 1 or not plan.shared.get("contract"):
        plan.note(
            "spent",
            "Reported spend goes with one monitoring return on a contract: "
            "upload that return on its own, with its contract",
        )
        return None
    before = len(plan.errors)
    start = _period_day(fields.period_start, "spend_period_start", plan)
    end = _period_day(fields.period_end, "spend_period_end", plan)
    if start and end and end < start:
        plan.note("spend_period_end", "Period to must be the same as or after Period from")
    spent = plan.noted("spent", lambda: form_pence(fields.spent, "spent"))
    outcomes = plan.noted("spend_outcomes", lambda: form_outcomes(fields.outcomes))
    if len(plan.errors) > before or start is None or end is None:
        return None
    try:
        return SpendIn(period_start=start, period_end=end, spent_pence=spent, outcomes=outcomes)
    except ValidationError as exc:
        for key, message in schema_errors(exc, {}, "spent", _FIELD_OF).items():
            plan.note(key, message)
        return None


_FIELD_OF = {"spent_pence": "spent", "outcomes": "spend_outcomes"}


def _period_day(boxes: DateBoxes, name: str, plan: UploadPlan) -> date | None:
    return plan.required_date(boxes.form(name), name, *_PERIOD[name])


def record_return_spend(
    services: Services, user: User, contract: str, spend: SpendIn, return_record: str
) -> str | None:
    """Record ``spend`` against the captured return; the reason if it could not be."""
    data = spend.model_copy(update={"return_record": return_record})
    try:
        with session_scope(services.engine) as session:
            add_spend(session, reference=contract, data=data, actor=user, clock=services.clock)
    except DomainError as exc:
        return f"Captured, but its spend was not recorded: {exc.detail}"
    return None
