"""The contract page's money forms: each posts to ``/contracts/{reference}/money/{entry}``.

A form is read field by field (amounts typed in pounds, dates as GOV.UK's day, month
and year boxes or one ``YYYY-MM-DD``), checked by the same schema the API uses and
recorded by the same service function (audited). Refused, the contract page is shown
again with that form open, every error beside its own field and what was typed kept;
the form's fields are looked up as ``ENTRY-FIELD``, since the forms share names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from records_service.bounds import FormReason, FormValue, Identifier
from records_service.db import session_scope
from records_service.errors import DomainError
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
    set_award,
)
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.web.deps import SignedInContractManager
from records_service.web.pages._forms import FormErrors, PeriodBoxes, labelled, schema_errors
from records_service.web.pages.contracts import contract_view
from records_service.web.pages.money import form_outcomes, form_pence
from records_service.web.rendering import flash, redirect

router = APIRouter()

Entry = Literal["award", "variation", "instalment", "payment", "spend", "recovery"]


class MoneyForm(PeriodBoxes):
    """Every field of the money forms, as typed; each form sends its own (each date as
    ``NAME_day``, ``NAME_month`` and ``NAME_year``, or as ``NAME``)."""

    kind: FormValue = ""
    awarded_on: FormValue = ""
    awarded_on_day: FormValue = ""
    awarded_on_month: FormValue = ""
    awarded_on_year: FormValue = ""
    awarded_value: FormValue = ""
    decision_record: FormValue = ""
    recipient: FormValue = ""
    purpose: FormReason = ""
    conditions: FormReason = ""
    reasons: FormReason = ""
    decided_on: FormValue = ""
    decided_on_day: FormValue = ""
    decided_on_month: FormValue = ""
    decided_on_year: FormValue = ""
    change: FormValue = ""
    record: FormValue = ""
    reason: FormReason = ""
    due_on: FormValue = ""
    due_on_day: FormValue = ""
    due_on_month: FormValue = ""
    due_on_year: FormValue = ""
    amount: FormValue = ""
    note: FormValue = ""
    payment_reference: FormValue = ""
    paid_on: FormValue = ""
    paid_on_day: FormValue = ""
    paid_on_month: FormValue = ""
    paid_on_year: FormValue = ""
    invoice_reference: FormValue = ""
    invoice_record: FormValue = ""
    spent: FormValue = ""
    outcomes: FormReason = ""
    return_record: FormValue = ""
    recovered_on: FormValue = ""
    recovered_on_day: FormValue = ""
    recovered_on_month: FormValue = ""
    recovered_on_year: FormValue = ""


# Each form's dates: the label its errors start with, and the words for one left blank.
_DATES: dict[str, dict[str, tuple[str, str]]] = {
    "payment": {"paid_on": ("Paid on", "Enter the day it was paid")},
    "spend": {
        "period_start": ("Period from", "Enter the first day of the period"),
        "period_end": ("Period to", "Enter the last day of the period"),
    },
    "award": {"awarded_on": ("Awarded on", "Enter the day it was awarded")},
    "variation": {"decided_on": ("Decided on", "Enter the day it was decided")},
    "instalment": {"due_on": ("Due on", "Enter the day it is due")},
    "recovery": {"recovered_on": ("Recovered on", "Enter the day it was recovered")},
}
_LABELS = {name: label for dates in _DATES.values() for name, (label, _) in dates.items()} | {
    "kind": "Kind",
    "amount": "Amount",
    "change": "Change",
    "awarded_value": "Awarded value",
    "spent": "Spent",
    "outcomes": "Outcome figures",
    "payment_reference": "Payment reference",
    "invoice_reference": "Invoice reference",
    "invoice_record": "Invoice record",
    "decision_record": "Decision record",
    "return_record": "Monitoring return record",
    "record": "Record",
    "reason": "Reason",
    "note": "Note",
    "recipient": "Recipient",
    "purpose": "Purpose",
    "conditions": "Conditions",
    "reasons": "Reasons",
}
# A schema's field by the form field it is typed in.
_RENAME = {
    "amount_pence": "amount",
    "change_pence": "change",
    "awarded_value_pence": "awarded_value",
    "spent_pence": "spent",
}
# Where a problem about no one field (a check across fields) is shown.
_ACROSS = {
    "payment": "payment_reference",
    "spend": "period_end",
    "award": "decision_record",
    "variation": "change",
    "instalment": "amount",
    "recovery": "amount",
}


class _Reading(FormErrors):
    """One money form being read: its values, and every problem found, by field."""

    def __init__(self, entry: str, form: MoneyForm) -> None:
        super().__init__()
        self.entry = entry
        self.values = form.model_dump()

    def text(self, name: str) -> str:
        return str(self.values[name]).strip()

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def day(self, name: str) -> date | None:
        """The date in ``name``'s boxes; blank or wrong, noted beside them."""
        return self.required_date(self.values, name, *_DATES[self.entry][name])

    def pence(self, name: str, words: str, *, signed: bool = False) -> int | None:
        return self.noted(name, lambda: form_pence(self.text(name), words, signed=signed))

    def outcomes(self) -> dict[str, int] | None:
        return self.noted("outcomes", lambda: form_outcomes(str(self.values["outcomes"])))


def _award(r: _Reading) -> dict[str, Any]:
    return {
        "kind": r.text("kind") or "contract",
        "awarded_on": r.day("awarded_on"),
        "awarded_value_pence": r.pence("awarded_value", "awarded value"),
        **{name: r.optional(name) for name in ("decision_record", "recipient", "purpose")},
        **{name: r.optional(name) for name in ("conditions", "reasons")},
    }


def _variation(r: _Reading) -> dict[str, Any]:
    return {
        "decided_on": r.day("decided_on"),
        "record": r.text("record"),
        "reason": r.values["reason"],
        "change_pence": r.pence("change", "change", signed=True),
    }


def _instalment(r: _Reading) -> dict[str, Any]:
    due = r.day("due_on")
    return {"due_on": due, "amount_pence": r.pence("amount", "amount"), "note": r.optional("note")}


def _payment(r: _Reading) -> dict[str, Any]:
    return {
        "payment_reference": r.text("payment_reference"),
        "paid_on": r.day("paid_on"),
        "amount_pence": r.pence("amount", "amount"),
        "invoice_reference": r.optional("invoice_reference"),
        "invoice_record": r.optional("invoice_record"),
    }


def _spend(r: _Reading) -> dict[str, Any]:
    start, end = r.day("period_start"), r.day("period_end")
    if start and end and end < start:
        r.errors["period_end"] = "Period to must be the same as or after Period from"
    return {
        "period_start": start,
        "period_end": end,
        "spent_pence": r.pence("spent", "spent"),
        "outcomes": r.outcomes(),
        "return_record": r.optional("return_record"),
    }


def _recovery(r: _Reading) -> dict[str, Any]:
    return {
        "recovered_on": r.day("recovered_on"),
        "reason": r.values["reason"],
        "amount_pence": r.pence("amount", "amount"),
        "decision_record": r.text("decision_record"),
    }


# Each form's values, read, and the API's schema for that entry.
_SCHEMAS: dict[str, tuple[Callable[[_Reading], dict[str, Any]], type[BaseModel]]] = {
    "award": (_award, AwardIn),
    "variation": (_variation, VariationIn),
    "instalment": (_instalment, InstalmentIn),
    "payment": (_payment, PaymentIn),
    "spend": (_spend, SpendIn),
    "recovery": (_recovery, RecoveryIn),
}
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


def read_entry(entry: str, form: MoneyForm) -> tuple[BaseModel | None, _Reading]:
    """The entry as its API schema, or ``None`` with every problem noted in the reading."""
    reading = _Reading(entry, form)
    values, schema = _SCHEMAS[entry]
    read = values(reading)
    try:
        data = schema.model_validate(read)
    except ValidationError as exc:
        found = schema_errors(exc, _LABELS, _ACROSS[entry], _RENAME)
        reading.errors = found | reading.errors
        return None, reading
    return (None if reading.errors else data), reading


def _service_problem(reading: _Reading, exc: DomainError) -> None:
    """A service's refusal, beside the field it names (else the form's usual one)."""
    named = [item.get("field") for item in exc.errors]
    given = next((str(f) for f in named if isinstance(f, str)), "")
    field = _RENAME.get(given, given)
    if field not in reading.values:
        field = _ACROSS[reading.entry]
    detail = exc.detail.removeprefix(f"{given}: ") if given else exc.detail
    reading.errors[field] = labelled(field, detail, _LABELS)


@router.post("/contracts/{reference:path}/money/{entry}")
def record_money(
    reference: Identifier,
    entry: Entry,
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInContractManager,
    posted: Annotated[MoneyForm, Form()],
) -> Response:
    """Record one money entry on the contract and return to its page; refused, the page
    is shown again with the form open and every error beside its field."""
    data, reading = read_entry(entry, posted)
    if data is not None:
        try:
            with session_scope(services.engine) as write:
                _RECORDERS[entry](
                    write, reference=reference, data=data, actor=user, clock=services.clock
                )
        except DomainError as exc:
            if exc.status == 404:
                raise
            _service_problem(reading, exc)
    if reading.errors:
        return contract_view(request, session, services, user, reference, money=_refused(reading))
    flash(request, _DONE[entry])
    return redirect(f"/contracts/{quote(reference, safe='/')}#money")


def _refused(reading: _Reading) -> dict[str, Any]:
    """The contract page's context for a refused money form: its values, errors and
    wrong date boxes, each by ``ENTRY-FIELD``."""
    key = f"{reading.entry}-"
    return {
        "money_entry": reading.entry,
        "form": {key + name: str(value) for name, value in reading.values.items()},
        "errors": {key + name: message for name, message in reading.errors.items()},
        "date_wrong": {key + name: boxes for name, boxes in reading.wrong.items()},
    }
