"""Contract pages: the list, one contract's file (details, checklist, known gaps,
timeline), and the forms to open or change a contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.bounds import Identifier, Label, PageNumber, SearchText
from records_service.contracts.models import Contract, ContractStatus
from records_service.contracts.service import funding_streams, get_contract
from records_service.pagination import PageParams, parse_sort
from records_service.records.service import can_see_sensitive, contract_records, record_labels
from records_service.records.timeline import TimelineEntry as TimelineVersion
from records_service.records.timeline import contract_timeline
from records_service.retention import RetentionSchedule
from records_service.retention.facts import contract_facts
from records_service.retention.finding_groups import finding_lines
from records_service.retention.findings import FindingFilters, list_findings
from records_service.retention.holds import HoldFilters, list_holds
from records_service.retention.known_gaps import REASON_LABELS, list_gaps, open_gaps
from records_service.retention.overview import (
    DEFAULT_GLANCE_SORT,
    GLANCE_SORTS,
    GlanceFilters,
    contracts_at_a_glance,
)
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
from records_service.web.pages._listing import Chip, chip_without, filter_chips, sort_headings
from records_service.web.pages._rows import type_label
from records_service.web.pages.money import money_section
from records_service.web.pages.records import PAGE_SIZE, page_links
from records_service.web.rendering import render

router = APIRouter()


CONTRACT_COLUMNS = {
    "reference": "Reference",
    "title": "Title",
    "value": "Value",
    "funding": "Funding stream",
    "status": "Status",
    "missing": "Missing",
    "overdue": "Overdue",
}
CONTRACT_FILTERS = {
    "q": "Reference or title contains",
    "status": "Status",
    "funding_stream": "Funding stream",
}


@router.get("/contracts")
def contract_list(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInUser,
    q: SearchText | None = None,
    status: ContractStatus | None = None,
    funding_stream: Label | None = None,
    gaps: Literal["", "1"] = "",
    sort: Identifier = "",
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Contracts with their value, funding, status and how many items each file lacks;
    filtered, sortable by each column, and narrowed to those with gaps in one click."""
    order = parse_sort(sort, GLANCE_SORTS, DEFAULT_GLANCE_SORT.text)
    filters = GlanceFilters(
        q=(q or "").strip() or None,
        status=status.value if status else None,
        funding_stream=(funding_stream or "").strip() or None,
        gaps_only=gaps == "1",
    )
    rows, total = contracts_at_a_glance(
        session,
        schedule=services.schedule,
        user=user,
        today=services.clock().date(),
        filters=filters,
        sort=order,
        page=PageParams(page=page, page_size=PAGE_SIZE),
    )
    params = {k: v for k, v in request.query_params.items() if v}
    without_gaps = {k: v for k, v in params.items() if k not in ("gaps", "page")}
    context = {
        "contracts": rows,
        "filters": params,
        "statuses": [s.value for s in ContractStatus],
        "funding_streams": funding_streams(session),
        "pages": page_links(page, PAGE_SIZE, total, params),
        "headings": sort_headings("/contracts", params, order, CONTRACT_COLUMNS),
        "chips": _chips(params, filters.gaps_only),
        "gaps_only": filters.gaps_only,
        "gaps_href": "/contracts?" + urlencode({**without_gaps, "gaps": "1"}),
    }
    return render(request, "contracts.html", context, user=user)


def _chips(params: dict[str, str], gaps_only: bool) -> list[Chip]:
    chips = filter_chips("/contracts", params, CONTRACT_FILTERS)
    if gaps_only:
        chips.append(chip_without("/contracts", params, ("gaps",), "Only contracts with gaps"))
    return chips


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
    money: dict[str, Any] | None = None,
) -> Response:
    """The contract page; with a known-gap form's values and errors when one was refused,
    or a money form's (``money``: its entry, values, errors and wrong date boxes)."""
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
        "retention": _retention(session, contract, user, services.schedule),
        "money": money_section(session, contract, user, services.clock().date()),
        "gaps": list_gaps(session, reference=contract.reference)[0],
        "gap_reasons": REASON_LABELS,
        "record_types": [(t, type_label(services.schedule, t)) for t in sorted(types)],
        "form": gap_form or {},
        "errors": gap_errors or {},
        "money_entry": None,
        **(money or {}),
    }
    status = 422 if context["errors"] else 200
    return render(request, "contract.html", context, user=user, status_code=status)


def _retention(
    session: Session, contract: Contract, user: User, schedule: RetentionSchedule
) -> dict[str, Any] | None:
    """Open findings (in words) and active holds on the contract, for those who may read them."""
    if not allows(user.role_set, Permission.READ_AUDIT):
        return None
    findings, _ = list_findings(session, filters=FindingFilters(contract=contract.reference))
    titles = record_labels(session, {f.record_id for f in findings if f.record_id}, user)
    lines = finding_lines(findings, schedule, {rid: label[0] for rid, label in titles.items()})
    holds, _ = list_holds(
        session,
        filters=HoldFilters(active=True, contract=contract.reference),
        page=PageParams(page=1, page_size=100),
    )
    return {"findings": lines, "holds": holds}
