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
from records_service.bounds import FormValue
from records_service.errors import DomainError
from records_service.reports.lines import Period
from records_service.reports.produce import FORMATS, ReportFormat, make_panel_report, panel_reports
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.web.deps import SignedInAuditReader, SignedInRetentionManager
from records_service.web.pages._forms import DATE_PARTS, date_boxes, read_dates
from records_service.web.rendering import flash, redirect, render

router = APIRouter(prefix="/reports")


@router.get("/panel")
def panel_page(request: Request, session: ReadSessionDep, user: SignedInAuditReader) -> Response:
    """The Panel's reports made so far, and (for records managers) the form."""
    reports, total = panel_reports(session, user)
    context = {"reports": reports, "total": total, "formats": FORMATS}
    return render(request, "reports_panel.html", context, user=user)


_DATES = {"from": "From", "to": "To"}
_BLANK = {"from": "Enter the period's first day", "to": "Enter the period's last day"}


def _period(
    form: dict[str, str], errors: dict[str, str], wrong: dict[str, tuple[str, ...]]
) -> tuple[date | None, date | None]:
    """The period's first and last days from their day, month and year boxes (or one
    ``YYYY-MM-DD`` value each); each problem is noted beside its own date."""
    days = read_dates(form, _DATES, errors, wrong)
    for name, day in days.items():
        if day is None and name not in errors:
            errors[name], wrong[name] = _BLANK[name], DATE_PARTS
    return days["from"], days["to"]


@router.post("/panel")
def make_panel(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInRetentionManager,
    start: Annotated[FormValue, Form(alias="from")] = "",
    from_day: Annotated[FormValue, Form()] = "",
    from_month: Annotated[FormValue, Form()] = "",
    from_year: Annotated[FormValue, Form()] = "",
    end: Annotated[FormValue, Form(alias="to")] = "",
    to_day: Annotated[FormValue, Form()] = "",
    to_month: Annotated[FormValue, Form()] = "",
    to_year: Annotated[FormValue, Form()] = "",
    fmt: Annotated[FormValue, Form(alias="format")] = "pdf",
) -> Response:
    """Make the report for the period, capture it, and open its record."""
    given = {"from": start, "from_day": from_day, "from_month": from_month}
    given |= {"from_year": from_year, "to": end, "to_day": to_day, "to_month": to_month}
    given |= {"to_year": to_year, "format": fmt}
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    first, last = _period(given, errors, wrong)
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
        form = date_boxes(given, {"from": first, "to": last})
        context = {"reports": reports, "total": total, "formats": FORMATS, "form": form}
        context |= {"errors": errors, "date_wrong": wrong}
        return render(request, "reports_panel.html", context, user=user, status_code=422)
    services.notify_worker()
    flash(request, f"The Panel's report was made and captured as record {made.record_id}.")
    return redirect(f"/records/{made.record_id}")


class _FormErrors(Exception):
    """The form has errors to show; nothing was made."""
