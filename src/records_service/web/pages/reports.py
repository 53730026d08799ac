"""The Panel's report on the web: the reports made so far, and a form to make one.

Records managers, auditors and admins see the page and open every report made (each
is a ``panel_report`` record, kept as it was given). Making one captures a record, so
only records managers and admins may: the same service function as
``records-service report panel`` (:func:`records_service.reports.produce.make_panel_report`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from records_service.audit.keys import trusted_keys
from records_service.bounds import FormValue, in_date_range
from records_service.errors import DomainError
from records_service.reports.lines import Period
from records_service.reports.produce import FORMATS, ReportFormat, make_panel_report, panel_reports
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.web.deps import SignedInAuditReader, SignedInRetentionManager
from records_service.web.rendering import flash, redirect, render

router = APIRouter(prefix="/reports")


@router.get("/panel")
def panel_page(request: Request, session: ReadSessionDep, user: SignedInAuditReader) -> Response:
    """The Panel's reports made so far, and (for records managers) the form."""
    reports, total = panel_reports(session, user)
    context = {"reports": reports, "total": total, "formats": FORMATS}
    return render(request, "reports_panel.html", context, user=user)


def _day(value: str, name: str, errors: dict[str, str]) -> date | None:
    label = "From" if name == "from" else "To"
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        errors[name] = f"{label}: enter a real date, for example 2026-03-31"
        return None
    try:
        return in_date_range(day)
    except ValueError as exc:
        errors[name] = f"{label}: {exc}"
        return None


@router.post("/panel")
def make_panel(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInRetentionManager,
    start: Annotated[FormValue, Form(alias="from")] = "",
    end: Annotated[FormValue, Form(alias="to")] = "",
    fmt: Annotated[FormValue, Form(alias="format")] = "pdf",
) -> Response:
    """Make the report for the period, capture it, and open its record."""
    errors: dict[str, str] = {}
    first, last = _day(start, "from", errors), _day(end, "to", errors)
    if fmt not in FORMATS:
        errors["format"] = "Format: choose HTML or PDF"
    try:
        if first is None or last is None or errors:
            raise _FormErrors
        made = make_panel_report(
            services.capture_context(),
            period=Period(first, last),
            schedule=services.schedule,
            fmt=cast(ReportFormat, fmt),
            actor=user,
            verifier_keys=trusted_keys(services.settings),
        )
    except (_FormErrors, DomainError) as exc:
        if isinstance(exc, DomainError):
            errors["from"] = exc.detail[:1].upper() + exc.detail[1:]
        reports, total = panel_reports(session, user)
        form = {"from": start, "to": end, "format": fmt}
        context = {"reports": reports, "total": total, "formats": FORMATS, "form": form}
        return render(
            request, "reports_panel.html", context | {"errors": errors}, user=user, status_code=422
        )
    services.notify_worker()
    flash(request, f"The Panel's report was made and captured as record {made.record_id}.")
    return redirect(f"/records/{made.record_id}")


class _FormErrors(Exception):
    """The form has errors to show; nothing was made."""
