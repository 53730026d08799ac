"""Transparency register routes: the register as at a day (JSON pages, or a whole
export as CSV or JSON), and recording that an item was published.

Reading needs only a token (items about records the caller may not see are left
out); recording a publication needs ``manage_contracts``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from records_service.api.deps import Paging, TokenContractManager, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import SafeDate
from records_service.pagination import Page
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep
from records_service.transparency.models import ItemKind
from records_service.transparency.schemas import (
    ItemState,
    PublicationIn,
    PublicationPublic,
    RegisterItemPublic,
)
from records_service.transparency.service import (
    item_dict,
    record_publication,
    register_csv,
    register_for,
    register_json,
    register_page_for,
)

router = APIRouter(prefix="/api/transparency", tags=["transparency"], responses=AUTHENTICATED)
AsAt = Annotated[
    SafeDate | None, Query(description="The day the register is as at; default today.")
]


@router.get("/register", response_model=Page[RegisterItemPublic])
def register(
    session: ReadSessionDep,
    services: ServicesDep,
    user: TokenUser,
    paging: Paging,
    as_at: AsAt = None,
    kind: ItemKind | None = None,
    state: ItemState | None = None,
) -> Page[RegisterItemPublic]:
    """What must be published as at the day, and whether, when and where it was."""
    rules = services.schedule.transparency
    day: date = as_at or services.clock().date()
    page, total = register_page_for(session, rules, day, user, paging, kind=kind, state=state)
    return Page(
        items=[RegisterItemPublic.model_validate(item_dict(item, rules)) for item in page],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get(
    "/register/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export(
    session: ReadSessionDep,
    services: ServicesDep,
    user: TokenUser,
    as_at: AsAt = None,
    format: Literal["csv", "json"] = "csv",
) -> Response:
    """The whole register as CSV or JSON, in the shape a publication page uses."""
    rules = services.schedule.transparency
    day: date = as_at or services.clock().date()
    items = register_for(session, rules, day, user)
    name = f"transparency-register-{day.isoformat()}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "json":
        body = register_json(items, rules, day)
        return Response(body, media_type="application/json", headers=headers)
    body = register_csv(items, rules, day)
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.post(
    "/publications",
    status_code=status.HTTP_201_CREATED,
    response_model=PublicationPublic,
    responses=problem_responses(400, 403, 404, 409),
)
def publish(
    data: PublicationIn, session: SessionDep, services: ServicesDep, user: TokenContractManager
) -> PublicationPublic:
    """Record that a register item was published, when and where (once per item)."""
    row = record_publication(
        session,
        data,
        rules=services.schedule.transparency,
        actor=user,
        clock=services.clock,
    )
    return PublicationPublic.model_validate(row)
