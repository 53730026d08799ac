"""Contract pages: the list, one contract's file (details, checklist, known gaps,
timeline), and the forms to open or change a contract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.bounds import Identifier, PageNumber, SearchText
from records_service.contracts.models import Contract, ContractStatus
from records_service.contracts.service import get_contract, list_contracts
from records_service.pagination import PageParams
from records_service.records.service import can_see_sensitive, contract_records
from records_service.records.timeline import TimelineEntry as TimelineVersion
from records_service.records.timeline import contract_timeline
from records_service.retention.facts import contract_facts
from records_service.retention.findings import FindingFilters, list_findings
from records_service.retention.holds import HoldFilters, list_holds
from records_service.retention.known_gaps import REASON_LABELS, list_gaps, open_gaps
from records_service.retention.policy import contract_problems
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.web.deps import SignedInUser
from records_service.web.pages._contract_file import (
    FileRecord,
    TimelineEntry,
    VersionEvent,
    build_checklist,
    build_timeline,
    milestones,
    stage_of_types,
    stage_title,
)
from records_service.web.pages._rows import type_label
from records_service.web.pages.records import PAGE_SIZE, page_links
from records_service.web.rendering import render

router = APIRouter()


@router.get("/contracts")
def contract_list(
    request: Request,
    session: ReadSessionDep,
    user: SignedInUser,
    q: SearchText | None = None,
    status: ContractStatus | None = None,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Contracts, filtered by words in their reference or title and by status."""
    rows, total = list_contracts(
        session,
        page=PageParams(page=page, page_size=PAGE_SIZE),
        status=status.value if status else None,
        q=(q or "").strip() or None,
    )
    params = dict(request.query_params)
    context = {
        "contracts": rows,
        "filters": params,
        "statuses": [s.value for s in ContractStatus],
        "pages": page_links(page, PAGE_SIZE, total, params),
    }
    return render(request, "contracts.html", context, user=user)


def _file_records(session: Session, contract: Contract, user: User) -> list[FileRecord]:
    """The records on the contract's file that ``user`` may see, oldest first.

    The checklist is worked out from these alone: a record hidden from the user
    must not fill an item, or the item would reveal that it exists.
    """
    rows = contract_records(session, contract.id, user)
    return [FileRecord(r.id, r.title, r.record_type, r.record_date) for r in rows]


def _timeline(
    session: Session, services: ServicesDep, contract: Contract, user: User
) -> list[TimelineEntry]:
    """Milestones and every visible record with its versions, in date order."""
    history = contract_timeline(session, reference=contract.reference, user=user)
    stages = stage_of_types(services.schedule.completeness)
    grouped: dict[str, list[TimelineVersion]] = {}
    for version in history.entries:
        grouped.setdefault(version.record_id, []).append(version)
    entries = milestones(contract)
    for versions in grouped.values():
        first = versions[0]
        stage = stages.get(first.record_type)
        entries.append(
            TimelineEntry(
                day=first.record_date,
                kind="record",
                label=type_label(services.schedule, first.record_type),
                title=first.title,
                record_id=first.record_id,
                stage=stage_title(stage) if stage else None,
                status=first.status,
                versions=[
                    VersionEvent(v.version, v.captured_at, v.captured_by, v.filename)
                    for v in versions
                ],
            )
        )
    return build_timeline(entries)


@router.get("/contracts/{reference:path}")
def contract_page(
    reference: Identifier,
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInUser,
) -> Response:
    """A contract's file: details, completeness checklist by stage, known gaps, timeline."""
    return contract_view(request, session, services, user, reference)


def contract_view(
    request: Request,
    session: Session,
    services: ServicesDep,
    user: User,
    reference: str,
    gap_form: dict[str, str] | None = None,
    gap_errors: dict[str, str] | None = None,
) -> Response:
    """The contract page; with a known-gap form's values and errors when one was refused."""
    contract = get_contract(session, reference)
    records = _file_records(session, contract, user)
    facts = contract_facts(contract)
    known = open_gaps(session, contract.id).get(contract.id or 0, [])
    types = services.record_types
    # Dates retention cannot count from (legacy data) would make a checklist of guesses.
    date_problems = contract_problems(facts, services.schedule)
    checklist = (
        []
        if date_problems
        else build_checklist(facts, records, services.schedule, services.clock().date(), known)
    )
    context: dict[str, Any] = {
        "contract": contract,
        "date_problems": date_problems,
        "checklist": checklist,
        "missing": sum(stage.missing for stage in checklist),
        "known_missing": sum(stage.known for stage in checklist),
        "timeline": _timeline(session, services, contract, user),
        "record_count": len(records),
        "partial_view": not can_see_sensitive(user),
        "retention": _retention(session, contract, user),
        "gaps": list_gaps(session, reference=contract.reference)[0],
        "gap_reasons": REASON_LABELS,
        "record_types": [(t, type_label(services.schedule, t)) for t in sorted(types)],
        "form": gap_form or {},
        "errors": gap_errors or {},
    }
    status = 422 if gap_errors else 200
    return render(request, "contract.html", context, user=user, status_code=status)


def _retention(session: Session, contract: Contract, user: User) -> dict[str, Any] | None:
    """Open findings and active holds on the contract, for those who may read them."""
    if not allows(user.role_set, Permission.READ_AUDIT):
        return None
    findings, _ = list_findings(session, filters=FindingFilters(contract=contract.reference))
    holds, _ = list_holds(
        session,
        filters=HoldFilters(active=True, contract=contract.reference),
        page=PageParams(page=1, page_size=100),
    )
    return {"findings": findings, "holds": holds}
