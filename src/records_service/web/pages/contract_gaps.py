"""The contract page's known-gap forms: recording a gap and closing one with the record
found for it (records managers). A refused form shows the contract page again with
the values given and what is wrong beside each field."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from records_service.bounds import DbId, FormReason, FormText, FormValue, Identifier
from records_service.db import read_scope, session_scope
from records_service.errors import DomainError
from records_service.retention.schemas import GapClose, GapCreate
from records_service.runtime.operations import close_known_gap, record_known_gap
from records_service.runtime.requests import ServicesDep
from records_service.web.deps import SignedInRetentionManager
from records_service.web.pages._forms import DATE_PARTS, PeriodBoxes, date_boxes, read_dates
from records_service.web.pages.contracts import contract_view
from records_service.web.rendering import flash, redirect

router = APIRouter()

_MESSAGES = {
    "record_type": "Choose the type of the missing record",
    "period_start": "Enter the first day the record covered",
    "period_end": "Enter the last day it covered, on or after the first",
    "reason": "Choose what happened to the record",
    "evidence": "Say what shows the record existed (at least 3 characters)",
    "reported_by": "Say who reported the gap",
    "found_record": "Enter the id of the record found, on this contract's file",
}


def _errors(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "period_end"
        errors.setdefault(prefix + name, _MESSAGES.get(name, str(error["msg"])))
    return errors


def _page(reference: str) -> str:
    return f"/contracts/{quote(reference, safe='/')}#gaps"


class GapForm(PeriodBoxes):
    """The record-a-gap form as posted: its dates as GOV.UK day, month and year boxes
    (or ``YYYY-MM-DD`` in the date's own name, from a link or a script)."""

    record_type: FormValue = ""
    reason: FormValue = ""
    evidence: FormReason = ""
    reported_by: FormValue = ""


_DATE_LABELS = {"period_start": "The first day it covered", "period_end": "The last day it covered"}


@router.post("/contracts/{reference:path}/gaps")
def record(
    reference: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInRetentionManager,
    posted: Annotated[GapForm, Form()],
) -> Response:
    """Record a known gap in the contract's file."""
    form = {name: value.strip() for name, value in posted.model_dump().items()}
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    days = read_dates(form, _DATE_LABELS, errors, wrong)
    fields = {name: form[name] for name in ("record_type", "reason", "evidence", "reported_by")}
    try:
        data = GapCreate.model_validate(fields | days)
        with session_scope(services.engine) as session:
            gap = record_known_gap(services, session, reference, data, user)
    except ValidationError as exc:
        errors = _errors(exc) | errors
    except DomainError as exc:
        errors = {"record_type": exc.detail} | errors
    if errors:
        blank = {name: DATE_PARTS for name, day in days.items() if day is None}
        wrong = blank | wrong
        with read_scope(services.engine) as session:
            shown = date_boxes(form, days)
            return contract_view(
                request, session, services, user, reference, shown, errors, {"date_wrong": wrong}
            )
    flash(request, f"Known gap {gap.id} recorded.")
    return redirect(_page(reference))


@router.post("/contracts/{reference:path}/gaps/{gap_id}/close")
def close(
    reference: Identifier,
    gap_id: DbId,
    request: Request,
    services: ServicesDep,
    user: SignedInRetentionManager,
    found_record: Annotated[FormText, Form()] = "",
    note: Annotated[FormReason, Form()] = "",
) -> Response:
    """Close a known gap with the record found for it."""
    field = f"close-{gap_id}"
    form = {field: found_record.strip(), f"{field}-note": note.strip()}
    errors: dict[str, str] = {}
    try:
        data = GapClose(found_record=found_record.strip(), note=note.strip() or None)
        with session_scope(services.engine) as session:
            close_known_gap(services, session, (reference, gap_id), data, user)
    except ValidationError:
        errors = {field: _MESSAGES["found_record"]}
    except DomainError as exc:
        errors = {field: exc.detail}
    if errors:
        with read_scope(services.engine) as session:
            return contract_view(request, session, services, user, reference, form, errors)
    flash(request, f"Known gap {gap_id} closed.")
    return redirect(_page(reference))
