"""Known-gap routes: a contract's register of records known to be missing.

Anyone signed in reads a contract's gaps; recording and closing one needs the
``manage_retention`` permission (records managers and admins). Both are audited.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status

from records_service.api.deps import Paging, TokenRetentionManager, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import DbId, Identifier
from records_service.pagination import Page
from records_service.retention.known_gaps import list_gaps
from records_service.retention.schemas import GapClose, GapCreate, GapPublic
from records_service.runtime.operations import close_known_gap, record_known_gap
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep

router = APIRouter(prefix="/api/contracts", tags=["known gaps"], responses=AUTHENTICATED)
WRITE = problem_responses(400, 403, 404, 409)


@router.get("/{reference}/gaps", response_model=Page[GapPublic], responses=problem_responses(404))
def gaps(
    reference: Identifier,
    session: ReadSessionDep,
    user: TokenUser,
    paging: Paging,
    state: Literal["open", "closed", "all"] = "all",
) -> Page[GapPublic]:
    """The contract's known gaps, by period; open, closed or all of them."""
    rows, total = list_gaps(session, reference=reference, state=state, page=paging)
    return Page(items=rows, total=total, page=paging.page, page_size=paging.page_size)


@router.post(
    "/{reference}/gaps",
    status_code=status.HTTP_201_CREATED,
    response_model=GapPublic,
    responses=WRITE,
)
def record(
    reference: Identifier,
    data: GapCreate,
    session: SessionDep,
    user: TokenRetentionManager,
    services: ServicesDep,
    response: Response,
) -> GapPublic:
    """Record a known gap: a record of the given type and period that existed (or
    should have) and is missing, what happened to it, the evidence and who reported it."""
    gap = record_known_gap(services, session, reference, data, user)
    response.headers["Location"] = f"/api/contracts/{reference}/gaps/{gap.id}"
    return gap


@router.post("/{reference}/gaps/{gap_id}/close", response_model=GapPublic, responses=WRITE)
def close(
    reference: Identifier,
    gap_id: DbId,
    data: GapClose,
    session: SessionDep,
    user: TokenRetentionManager,
    services: ServicesDep,
) -> GapPublic:
    """Close an open gap with the record later found for it, on the same contract's file."""
    return close_known_gap(services, session, (reference, gap_id), data, user)
