"""Money on the contract page: the numbers and chart, the entries, the findings beside
them, and the forms that record each kind of entry (amounts typed in pounds).

The page's section is built by :func:`money_section`, which ``contracts.py`` calls;
each form posts to ``/contracts/{reference}/money/{entry}``, is checked by the same
schema the API uses, recorded by the same service function (audited), and returns
to the page with a message saying what was recorded or what to correct.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.bounds import MAX_PENCE, FormReason, FormValue, Identifier
from records_service.contracts.models import Contract
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.finance.models import (
    AwardKind,
    Instalment,
    Payment,
    Recovery,
    SpendReport,
    Variation,
)
from records_service.finance.schemas import (
    AwardIn,
    InstalmentIn,
    PaymentIn,
    RecoveryIn,
    SpendIn,
    VariationIn,
)
from records_service.finance.service import (
    add_instalment,
    add_payment,
    add_recovery,
    add_spend,
    add_variation,
    get_award,
    list_entries,
    money_summary,
    set_award,
    spend_public,
)
from records_service.pagination import PageParams
from records_service.retention.findings import FindingFilters, list_findings
from records_service.retention.models import FindingKind
from records_service.runtime.requests import ServicesDep
from records_service.web.deps import SignedInContractManager
from records_service.web.pages._money_chart import money_chart
from records_service.web.rendering import flash, redirect

router = APIRouter()

Entry = Literal["award", "variation", "instalment", "payment", "spend", "recovery"]
MONEY_KINDS = frozenset(
    {
        FindingKind.OVERPAID.value,
        FindingKind.SPEND_BEHIND_PROFILE.value,
        FindingKind.UNSPENT_AT_CLOSURE.value,
        FindingKind.PAYMENT_WITHOUT_INVOICE.value,
        FindingKind.SPEND_UNREPORTED.value,
        FindingKind.PUBLICATION_OVERDUE.value,
        FindingKind.PUBLISHED_COPY_MISSING.value,
    }
)
SHOWN = PageParams(page=1, page_size=100)  # the latest entries of each kind on the page
AWARD_KINDS = [
    (AwardKind.CONTRACT.value, "Contract"),
    (AwardKind.GRANT.value, "Grant"),
    (AwardKind.CRIME_AND_DISORDER_GRANT.value, "Crime and disorder reduction grant"),
]


def money_section(session: Session, contract: Contract, user: User, today: date) -> dict[str, Any]:
    """Everything the contract page's money section shows to ``user``."""
    summary = money_summary(session, contract, today)
    entries = {
        name: list_entries(session, table, contract, SHOWN)
        for name, table in (
            ("variations", Variation),
            ("instalments", Instalment),
            ("payments", Payment),
            ("recoveries", Recovery),
        )
    }
    spend, spend_total = list_entries(session, SpendReport, contract, SHOWN)
    findings = None
    if allows(user.role_set, Permission.READ_AUDIT):
        rows, _ = list_findings(session, filters=FindingFilters(contract=contract.reference))
        findings = [row for row in rows if row.kind in MONEY_KINDS]
    return {
        "summary": summary,
        "chart": money_chart(summary),
        "award": get_award(session, contract),
        "award_kinds": AWARD_KINDS,
        **{name: rows for name, (rows, _) in entries.items()},
        "totals": {name: total for name, (_, total) in entries.items()} | {"spend": spend_total},
        "spend": [spend_public(row) for row in spend],
        "findings": findings,
    }


class MoneyForm(BaseModel):
    """Every field of the money forms, as typed; each form sends its own."""

    kind: FormValue = ""
    awarded_on: FormValue = ""
    awarded_value: FormValue = ""
    decision_record: FormValue = ""
    recipient: FormValue = ""
    purpose: FormReason = ""
    conditions: FormReason = ""
    reasons: FormReason = ""
    decided_on: FormValue = ""
    change: FormValue = ""
    record: FormValue = ""
    reason: FormReason = ""
    due_on: FormValue = ""
    amount: FormValue = ""
    note: FormValue = ""
    payment_reference: FormValue = ""
    paid_on: FormValue = ""
    invoice_reference: FormValue = ""
    invoice_record: FormValue = ""
    period_start: FormValue = ""
    period_end: FormValue = ""
    spent: FormValue = ""
    outcomes: FormReason = ""
    return_record: FormValue = ""
    recovered_on: FormValue = ""


class FormProblem(ValueError):
    """A typed value that cannot be read, with the words to show."""


def form_pence(text: str, name: str, *, signed: bool = False) -> int | None:
    """Pounds typed by a person (``£12,500.50``, ``-1,000``) as pence; ``None`` when blank."""
    cleaned = text.strip().replace(",", "").replace("£", "").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned) * 100 if len(cleaned) <= 40 else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    low = -MAX_PENCE if signed else 0
    if not value.is_finite() or value != value.to_integral_value() or not low <= value <= MAX_PENCE:
        raise FormProblem(f"{name}: enter an amount in pounds, for example 12,500.00")
    return int(value)


def form_outcomes(text: str) -> dict[str, int]:
    """Outcome figures typed one a line, ``people supported: 120``."""
    figures: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, number = line.replace("=", ":").rpartition(":")
        if not sep or not name.strip() or not number.strip().isdigit():
            raise FormProblem(
                f"outcomes: write each figure as 'name: number', not {line.strip()!r}"
            )
        figures[name.strip()] = int(number.strip())
    return figures


def _blank_none(text: str) -> str | None:
    return text.strip() or None


def _award(f: MoneyForm) -> AwardIn:
    return AwardIn(
        kind=f.kind or "contract",
        awarded_on=f.awarded_on,
        awarded_value_pence=form_pence(f.awarded_value, "awarded value"),
        decision_record=_blank_none(f.decision_record),
        recipient=_blank_none(f.recipient),
        purpose=_blank_none(f.purpose),
        conditions=_blank_none(f.conditions),
        reasons=_blank_none(f.reasons),
    )


def _variation(f: MoneyForm) -> VariationIn:
    return VariationIn(
        decided_on=f.decided_on,
        record=f.record.strip(),
        reason=f.reason,
        change_pence=form_pence(f.change, "change", signed=True),
    )


def _instalment(f: MoneyForm) -> InstalmentIn:
    return InstalmentIn(
        due_on=f.due_on, amount_pence=form_pence(f.amount, "amount"), note=_blank_none(f.note)
    )


def _payment(f: MoneyForm) -> PaymentIn:
    return PaymentIn(
        payment_reference=f.payment_reference.strip(),
        paid_on=f.paid_on,
        amount_pence=form_pence(f.amount, "amount"),
        invoice_reference=_blank_none(f.invoice_reference),
        invoice_record=_blank_none(f.invoice_record),
    )


def _spend(f: MoneyForm) -> SpendIn:
    return spend_data(f.period_start, f.period_end, f.spent, f.outcomes, f.return_record)


def _recovery(f: MoneyForm) -> RecoveryIn:
    return RecoveryIn(
        recovered_on=f.recovered_on,
        reason=f.reason,
        amount_pence=form_pence(f.amount, "amount"),
        decision_record=f.decision_record.strip(),
    )


# Each form's fields as the API's schema for that entry (``ValueError`` if they cannot be).
_SCHEMAS: dict[str, Callable[[MoneyForm], BaseModel]] = {
    "award": _award,
    "variation": _variation,
    "instalment": _instalment,
    "payment": _payment,
    "spend": _spend,
    "recovery": _recovery,
}


def spend_data(start: str, end: str, spent: str, outcomes: str, return_record: str) -> SpendIn:
    """A spend report from typed fields (also offered by the monitoring-return upload)."""
    return SpendIn(
        period_start=start,
        period_end=end,
        spent_pence=form_pence(spent, "spent"),
        outcomes=form_outcomes(outcomes),
        return_record=_blank_none(return_record),
    )


_RECORDERS: dict[str, Any] = {
    "award": set_award,
    "variation": add_variation,
    "instalment": add_instalment,
    "payment": add_payment,
    "spend": add_spend,
    "recovery": add_recovery,
}
_DONE = {
    "award": "Award details recorded.",
    "variation": "Variation recorded.",
    "instalment": "Instalment added to the payment schedule.",
    "payment": "Payment recorded.",
    "spend": "Reported spend recorded.",
    "recovery": "Recovery of unspent funds recorded.",
}


def problem_text(exc: Exception) -> str:
    """What to correct, in one sentence."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return exc.detail if isinstance(exc, DomainError) else str(exc)


@router.post("/contracts/{reference:path}/money/{entry}")
def record_money(
    reference: Identifier,
    entry: Entry,
    request: Request,
    services: ServicesDep,
    user: SignedInContractManager,
    posted: Annotated[MoneyForm, Form()],
) -> Response:
    """Record one money entry on the contract and return to its page."""
    back = f"/contracts/{quote(reference, safe='/')}#money"
    try:
        data = _SCHEMAS[entry](posted)
        with session_scope(services.engine) as session:
            _RECORDERS[entry](
                session, reference=reference, data=data, actor=user, clock=services.clock
            )
    except (ValueError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status == 404:
            raise
        flash(request, f"Not recorded: {problem_text(exc)}", "error")
        return redirect(back)
    flash(request, _DONE[entry])
    return redirect(back)
