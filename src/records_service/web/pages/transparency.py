"""The transparency register page: what the Specified Information Order requires to be
published as at a day, whether it was, when and where; the export (CSV or JSON); and a
form to record a publication (the same service function as the API, audited)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from records_service.bounds import FormValue, SafeDate
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.transparency.schemas import PublicationIn
from records_service.transparency.service import (
    describe,
    record_publication,
    register_csv,
    register_for,
    register_json,
)
from records_service.web.deps import SignedInContractManager, SignedInUser
from records_service.web.pages.money import problem_text
from records_service.web.rendering import flash, redirect, render

router = APIRouter(prefix="/transparency")

STATES = ("overdue", "due", "published")


@router.get("")
def register_page(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInUser,
    as_at: Annotated[SafeDate | None, Query()] = None,
    state: Annotated[Literal["overdue", "due", "published"] | None, Query()] = None,
) -> Response:
    """The register as at a day (today by default), optionally of one state."""
    rules = services.schedule.transparency
    day: date = as_at or services.clock().date()
    items = register_for(session, rules, day, user)
    counts = {name: sum(1 for item in items if item.state == name) for name in STATES}
    shown = [item for item in items if state is None or item.state == state]
    context = {
        "items": shown,
        "describe": lambda item: describe(item, rules),
        "as_at": day,
        "state": state or "",
        "states": STATES,
        "counts": counts,
        "rules": rules,
    }
    return render(request, "transparency.html", context, user=user)


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


@router.post("/publications")
def publish(
    request: Request,
    services: ServicesDep,
    user: SignedInContractManager,
    item: Annotated[FormValue, Form()] = "",
    published_on: Annotated[FormValue, Form()] = "",
    location: Annotated[FormValue, Form()] = "",
    copy_record: Annotated[FormValue, Form()] = "",
) -> Response:
    """Record that an item was published, when and where, and return to the register."""
    try:
        data = PublicationIn(
            item=item,
            published_on=published_on,
            location=location.strip(),
            copy_record=copy_record.strip() or None,
        )
        with session_scope(services.engine) as session:
            record_publication(
                session,
                data,
                rules=services.schedule.transparency,
                actor=user,
                clock=services.clock,
            )
    except (ValidationError, DomainError) as exc:
        flash(request, f"Not recorded: {problem_text(exc)}", "error")
        return redirect("/transparency")
    flash(request, f"Publication of {data.item} recorded.")
    return redirect("/transparency")
