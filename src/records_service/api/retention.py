"""Retention routes: the schedule, findings (JSON and CSV), runs, holds, dispositions, disposals.

Placing or releasing holds, deciding dispositions and starting runs need the
``manage_retention`` permission (records managers and admins); reading findings,
holds, dispositions and disposal records needs ``read_audit``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response

from records_service.api.deps import Paging, TokenAuditReader, TokenRetentionManager, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import DbId, Identifier
from records_service.errors import Conflict
from records_service.pagination import Page
from records_service.records.service import get_record
from records_service.retention.dispositions import (
    DispositionFilters,
    decide_disposition,
    execute_disposition,
    get_disposition,
    list_disposals,
    list_dispositions,
    propose_disposition,
)
from records_service.retention.findings import FindingFilters, export_findings, list_findings
from records_service.retention.holds import (
    HoldFilters,
    list_holds,
    place_hold,
    place_record_holds,
    release_hold,
)
from records_service.retention.job import RunReport
from records_service.retention.models import DispositionStatus, FindingKind
from records_service.retention.record_view import record_retention
from records_service.retention.schemas import (
    DisposalRecordPublic,
    DispositionCreate,
    DispositionPublic,
    FindingPublic,
    HoldCreate,
    HoldPublic,
    ReasonBody,
    RecordHoldsCreate,
    RecordRetentionPublic,
    RunRequest,
)
from records_service.runtime.operations import run_retention_now
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep

router = APIRouter(prefix="/api/retention", tags=["retention"], responses=AUTHENTICATED)
record_router = APIRouter(prefix="/api/records", tags=["records"], responses=AUTHENTICATED)
FORBIDDEN = problem_responses(403)
# Routes that take a JSON body and act on a hold, record or disposition.
DECISION = problem_responses(400, 403, 404, 409)

FindingState = Literal["open", "resolved", "all"]


@router.get("/schedule")
def schedule(services: ServicesDep, user: TokenUser) -> dict[str, Any]:
    """The retention schedule and completeness rules in force."""
    return services.schedule.to_dict()


def _finding_filters(
    kind: FindingKind | None = None,
    contract: Annotated[Identifier | None, Query(description="Contract reference.")] = None,
    record_id: Identifier | None = None,
    state: FindingState = "open",
) -> FindingFilters:
    return FindingFilters(kind=kind, contract=contract, record_id=record_id, state=state)


FindingFiltersDep = Annotated[FindingFilters, Depends(_finding_filters)]


@router.get("/findings", response_model=Page[FindingPublic], responses=FORBIDDEN)
def findings(
    session: ReadSessionDep, user: TokenAuditReader, paging: Paging, filters: FindingFiltersDep
) -> Page[FindingPublic]:
    """Findings of the retention job, by kind then key; open ones unless ``state`` says."""
    rows, total = list_findings(session, filters=filters, page=paging)
    return Page(
        items=[FindingPublic.of(row) for row in rows],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get(
    "/findings.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **FORBIDDEN},
)
def findings_as_csv(
    session: ReadSessionDep, user: TokenAuditReader, filters: FindingFiltersDep
) -> Response:
    """The same findings as CSV (all pages), for a spreadsheet, followed by the known gaps
    (rows of kind ``known_gap``) of the same contract and state, unless ``kind`` or
    ``record_id`` is given."""
    return Response(
        export_findings(session, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="findings.csv"'},
    )


@router.post("/run", response_model=RunReport, responses=problem_responses(400, 403))
def run(
    services: ServicesDep, user: TokenRetentionManager, body: RunRequest | None = None
) -> RunReport:
    """Run the retention job now, as you (you cannot then approve what it proposes)."""
    return run_retention_now(services, user, body or RunRequest())


@router.post(
    "/holds", status_code=status.HTTP_201_CREATED, response_model=HoldPublic, responses=DECISION
)
def place(services: ServicesDep, user: TokenRetentionManager, body: HoldCreate) -> HoldPublic:
    """Place a hold on a record or on a whole contract; it blocks disposal until released."""
    return place_hold(services.hold_context(), request=body, actor=user)


@router.post(
    "/holds/records",
    status_code=status.HTTP_201_CREATED,
    response_model=list[HoldPublic],
    responses=DECISION,
)
def place_on_records(
    services: ServicesDep, user: TokenRetentionManager, body: RecordHoldsCreate
) -> list[HoldPublic]:
    """Place one hold on each of several records, for one case; all or none are placed."""
    return place_record_holds(services.hold_context(), request=body, actor=user)


@router.get("/holds", response_model=Page[HoldPublic], responses=problem_responses(403, 404))
def holds(
    session: ReadSessionDep,
    user: TokenAuditReader,
    paging: Paging,
    active: bool | None = None,
    record_id: Identifier | None = None,
    contract: Identifier | None = None,
) -> Page[HoldPublic]:
    """Holds, newest first; filter by ``active``, record or contract."""
    filters = HoldFilters(active=active, record_id=record_id, contract=contract)
    items, total = list_holds(session, filters=filters, page=paging)
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.post("/holds/{hold_id}/release", response_model=HoldPublic, responses=DECISION)
def release(
    hold_id: DbId, services: ServicesDep, user: TokenRetentionManager, body: ReasonBody
) -> HoldPublic:
    """Release a hold, with the reason."""
    return release_hold(services.hold_context(), hold_id=hold_id, reason=body.reason, actor=user)


@router.get("/dispositions", response_model=Page[DispositionPublic], responses=FORBIDDEN)
def dispositions(
    session: ReadSessionDep,
    user: TokenAuditReader,
    paging: Paging,
    disposition_status: Annotated[DispositionStatus | None, Query(alias="status")] = None,
    record_id: Identifier | None = None,
) -> Page[DispositionPublic]:
    """Proposed, approved, rejected and executed dispositions, newest first."""
    filters = DispositionFilters(status=disposition_status, record_id=record_id)
    rows, total = list_dispositions(session, filters=filters, page=paging)
    return Page(
        items=[DispositionPublic.of(row) for row in rows],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.post(
    "/dispositions",
    status_code=status.HTTP_201_CREATED,
    response_model=DispositionPublic,
    responses=DECISION,
)
def propose(
    session: SessionDep, services: ServicesDep, user: TokenRetentionManager, body: DispositionCreate
) -> DispositionPublic:
    """Propose disposing of a record whose retention has ended (e.g. after a review)."""
    disposition = propose_disposition(
        session,
        record_id=body.record_id,
        action=body.action,
        reason=body.reason,
        actor=user,
        schedule=services.schedule,
        clock=services.clock,
    )
    return DispositionPublic.of(disposition)


@router.get(
    "/dispositions/{disposition_id}",
    response_model=DispositionPublic,
    responses=problem_responses(403, 404),
)
def disposition(
    disposition_id: DbId, session: ReadSessionDep, user: TokenAuditReader
) -> DispositionPublic:
    """One disposition."""
    return DispositionPublic.of(get_disposition(session, disposition_id))


@router.post(
    "/dispositions/{disposition_id}/approve", response_model=DispositionPublic, responses=DECISION
)
def approve(
    disposition_id: DbId, services: ServicesDep, user: TokenRetentionManager, body: ReasonBody
) -> DispositionPublic:
    """Approve and execute; ``error`` is set (status stays approved) if execution failed."""
    result = decide_disposition(
        services.disposal_context(),
        disposition_id=disposition_id,
        approve=True,
        reason=body.reason,
        actor=user,
    )
    return DispositionPublic.of(result)


@router.post(
    "/dispositions/{disposition_id}/reject", response_model=DispositionPublic, responses=DECISION
)
def reject(
    disposition_id: DbId, services: ServicesDep, user: TokenRetentionManager, body: ReasonBody
) -> DispositionPublic:
    """Reject a proposal; the job does not propose it again unless the date moves.

    The proposer may not reject their own proposal (403), as they may not approve it.
    """
    result = decide_disposition(
        services.disposal_context(),
        disposition_id=disposition_id,
        approve=False,
        reason=body.reason,
        actor=user,
    )
    return DispositionPublic.of(result)


@router.post(
    "/dispositions/{disposition_id}/execute",
    response_model=DispositionPublic,
    responses=problem_responses(403, 404, 409),
)
def execute(
    disposition_id: DbId, services: ServicesDep, user: TokenRetentionManager
) -> DispositionPublic:
    """Retry an approved disposition whose execution failed (409 if it fails again)."""
    result = execute_disposition(
        services.disposal_context(), disposition_id=disposition_id, actor=user.username
    )
    if result.error:
        raise Conflict(result.error)
    return DispositionPublic.of(result)


@router.get("/disposals", response_model=Page[DisposalRecordPublic], responses=FORBIDDEN)
def disposals(
    session: ReadSessionDep,
    user: TokenAuditReader,
    paging: Paging,
    contract: Identifier | None = None,
) -> Page[DisposalRecordPublic]:
    """Disposal records (tombstones), newest first."""
    rows, total = list_disposals(session, contract=contract, page=paging)
    return Page(
        items=[DisposalRecordPublic.of(row) for row in rows],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@record_router.get(
    "/{record_id}/retention",
    response_model=RecordRetentionPublic,
    responses=problem_responses(404),
)
def record_retention_view(
    record_id: Identifier, session: ReadSessionDep, services: ServicesDep, user: TokenUser
) -> RecordRetentionPublic:
    """The record's computed retention, today's decision, its holds, dispositions and tombstone."""
    record = get_record(session, record_id, user)
    return record_retention(
        session, record, services.schedule, services.clock().date(), services.store
    )
