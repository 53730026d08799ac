"""The upload page's optional fields for a monitoring return: the spend and outcomes it
reports, recorded against that return once it is captured.

They go with exactly one monitoring return on a contract, so they are refused (with
the batch's other errors, before any file is captured) for an upload with none or
several; once the return is captured its spend is recorded by the same service
function as the contract page and the API (audited).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from records_service.auth.models import User
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.finance.schemas import SpendIn
from records_service.finance.service import add_spend
from records_service.runtime.services import Services
from records_service.web.pages._upload_plan import UploadPlan
from records_service.web.pages.money import problem_text, spend_data

RETURN_TYPE = "monitoring_return"
_FIELD_OF = {
    "period_start": "spend_period_start",
    "period_end": "spend_period_end",
    "outcomes": "spend_outcomes",
}


@dataclass(frozen=True)
class ReturnSpend:
    """The upload's spend fields, as typed."""

    period_start: str = ""
    period_end: str = ""
    spent: str = ""
    outcomes: str = ""

    @property
    def given(self) -> bool:
        """Whether any of them was filled in."""
        return any(
            v.strip() for v in (self.period_start, self.period_end, self.spent, self.outcomes)
        )

    def form(self) -> dict[str, str]:
        """The fields by name, as the form shows them again."""
        return {
            "spend_period_start": self.period_start,
            "spend_period_end": self.period_end,
            "spent": self.spent,
            "spend_outcomes": self.outcomes,
        }


def check_return_spend(fields: ReturnSpend, plan: UploadPlan) -> SpendIn | None:
    """The spend to record with the upload's monitoring return, or ``None`` if none was
    given; a problem is added to ``plan.errors`` beside its field."""
    if not fields.given:
        return None
    returns = [f for f in plan.files if f.record_type == RETURN_TYPE]
    if len(returns) != 1 or not plan.shared.get("contract"):
        plan.errors.setdefault(
            "spent",
            "Reported spend goes with one monitoring return on a contract: "
            "upload that return on its own, with its contract",
        )
        return None
    try:
        return spend_data(fields.period_start, fields.period_end, fields.spent, fields.outcomes, "")
    except (ValueError, ValidationError) as exc:
        text = problem_text(exc)
        name = text.split(":", 1)[0]
        plan.errors.setdefault(
            _FIELD_OF.get(name, "spent"),
            text[:1].upper() + text[1:],
        )
        return None


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
