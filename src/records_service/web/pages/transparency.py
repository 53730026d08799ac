"""The transparency register page: what the Specified Information Order requires to be
published as at a day, whether it was, when and where; the export (CSV or JSON); and a
form to record a publication (the same service function as the API, audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import FormValue, PageNumber, SafeDate
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.pagination import PageParams
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.runtime.services import Services
from records_service.transparency.register import STATES
from records_service.transparency.schemas import PublicationIn
from records_service.transparency.service import (
    describe,
    record_publication,
    register_counts_for,
    register_csv,
    register_for,
    register_json,
    register_page_for,
)
from records_service.web.deps import SignedInContractManager, SignedInUser
from records_service.web.pages._forms import (
    DATE_PARTS,
    date_boxes,
    date_parts,
    field_of,
    labelled,
    read_dates,
    schema_errors,
)
from records_service.web.pages.records import PAGE_SIZE, page_links
from records_service.web.rendering import flash, redirect, render

router = APIRouter(prefix="/transparency")


@router.get("")
def register_page(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInUser,
    as_at: FormValue = "",
    as_at_day: FormValue = "",
    as_at_month: FormValue = "",
    as_at_year: FormValue = "",
    state: FormValue = "",
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """A page of the register as at a day (today by default, typed as day, month and
    year boxes or given as one ``YYYY-MM-DD``), optionally of one state (the filter's
    "Any" sends a blank one, which filters nothing; a state that is not one is
    refused, and every state shown)."""
    given = {"as_at": as_at, "as_at_day": as_at_day, "as_at_month": as_at_month}
    given["as_at_year"] = as_at_year
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    day = read_dates(given, {"as_at": "As at"}, errors, wrong)["as_at"] or services.clock().date()
    # A day that cannot be read is shown as typed, to correct; the register is today's.
    form = date_boxes(given, {} if errors else {"as_at": day})
    if state and state not in STATES:
        errors["state"] = "Choose a state from the list, or Any"
    view = _Filters(day, state if state in STATES else None, form, page)
    return _register_view(request, session, services, user, view, errors, wrong)


@dataclass(frozen=True)
class _Filters:
    """The day, state and page the register is shown for, and the filter form as typed."""

    day: date
    state: str | None
    form: dict[str, str]
    page: int = 1


def _register_view(
    request: Request,
    session: Session,
    services: Services,
    user: User,
    view: _Filters,
    errors: dict[str, str],
    wrong: dict[str, tuple[str, ...]],
) -> Response:
    rules = services.schedule.transparency
    paging = PageParams(page=view.page, page_size=PAGE_SIZE)
    items, total = register_page_for(session, rules, view.day, user, paging, state=view.state)
    # Links to the other pages keep the day and state; a refused publication's answer
    # is at /transparency/publications, so they name the register's own address.
    params = {"as_at": view.day.isoformat(), "state": view.state}
    context = {
        "items": items,
        "pages": page_links(view.page, PAGE_SIZE, total, params, path="/transparency"),
        "describe": lambda item: describe(item, rules),
        "as_at": view.day,
        "state": view.state or "",
        "states": STATES,
        "counts": register_counts_for(session, rules, view.day, user),
        "rules": rules,
        "form": date_parts("as_at", view.day) | view.form,  # the filter shows the day
        "errors": errors,
        "date_wrong": wrong,
    }
    status = 422 if errors else 200
    return render(request, "transparency.html", context, user=user, status_code=status)


@router.get("/export")
def register_export(
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInUser,
    as_at: Annotated[SafeDate | None, Query()] = None,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
) -> Response:
    """The register as a CSV or JSON file, as at the day."""
    rules = services.schedule.transparency
    day: date = as_at or services.clock().date()
    items = register_for(session, rules, day, user)
    headers = {
        "Content-Disposition": f'attachment; filename="transparency-register-{day}.{format}"',
        "Cache-Control": "no-store",
    }
    if format == "json":
        return Response(
            register_json(items, rules, day), media_type="application/json", headers=headers
        )
    return Response(
        register_csv(items, rules, day), media_type="text/csv; charset=utf-8", headers=headers
    )


_LABELS = {"published_on": "Published on", "location": "Where", "copy_record": "Copy"}


@router.post("/publications")
def publish(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInContractManager,
    item: Annotated[FormValue, Form()] = "",
    published_on: Annotated[FormValue, Form()] = "",
    published_on_day: Annotated[FormValue, Form()] = "",
    published_on_month: Annotated[FormValue, Form()] = "",
    published_on_year: Annotated[FormValue, Form()] = "",
    location: Annotated[FormValue, Form()] = "",
    copy_record: Annotated[FormValue, Form()] = "",
) -> Response:
    """Record that an item was published, when and where, and return to the register;
    refused, the register is shown again with every error beside its field."""
    form = {k: v for k, v in locals().items() if k in _FORM_FIELDS}
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    day = read_dates(form, {"published_on": "Published on"}, errors, wrong)["published_on"]
    if day is None and not errors:
        errors["published_on"], wrong["published_on"] = _BLANK_DAY, DATE_PARTS
    try:
        data = PublicationIn(
            item=item,
            published_on=day or services.clock().date(),
            location=location.strip(),
            copy_record=copy_record.strip() or None,
        )
        if errors:
            raise _Refused
        with session_scope(services.engine) as write:
            record_publication(
                write, data, rules=services.schedule.transparency, actor=user, clock=services.clock
            )
    except (ValidationError, DomainError, _Refused) as exc:
        errors = _problems(exc) | errors
        view = _Filters(services.clock().date(), None, date_boxes(form, {"published_on": day}))
        return _register_view(request, session, services, user, view, errors, wrong)
    flash(request, f"Publication of {data.item} recorded.")
    return redirect("/transparency")


_FORM_FIELDS = frozenset(
    {"item", "location", "copy_record", "published_on"}
    | {f"published_on_{part}" for part in DATE_PARTS}
)
_BLANK_DAY = "Enter the day it was published"


class _Refused(Exception):
    """The form has errors of its own to show; nothing was recorded."""


def _problems(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return schema_errors(exc, _LABELS, "item")
    if isinstance(exc, DomainError):
        field = field_of(exc, "item")
        return {field: labelled(field, exc.detail, _LABELS)}
    return {}
