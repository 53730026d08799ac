"""Retention pages: findings (with CSV export), dispositions awaiting a decision, holds.

Reading needs ``read_audit``; deciding dispositions, placing or releasing holds and
starting a run need ``manage_retention``, exactly as under ``/api/retention``. A
disposition cannot be approved or rejected by the person who proposed it (the
service refuses; the page does not offer it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import DbId, FormReason, FormText, Identifier, PageNumber
from records_service.contracts.service import contract_by_name
from records_service.db import read_scope, session_scope
from records_service.errors import DomainError
from records_service.pagination import PageParams, parse_sort
from records_service.records.service import record_labels
from records_service.retention.dispositions import (
    DispositionFilters,
    decide_disposition,
    list_dispositions,
)
from records_service.retention.finding_groups import (
    DEFAULT_GROUP_SORT,
    GROUP_SORTS,
    findings_by_contract,
)
from records_service.retention.findings import FindingFilters, export_findings
from records_service.retention.holds import (
    HoldFilters,
    list_holds,
    place_hold,
    release_hold,
)
from records_service.retention.job import last_run_in
from records_service.retention.models import DispositionStatus, FindingKind
from records_service.retention.schemas import HoldCreate, RunRequest
from records_service.runtime.operations import run_retention_now
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.runtime.services import Services
from records_service.web.deps import SignedInAuditReader, SignedInRetentionManager
from records_service.web.pages._forms import optional
from records_service.web.pages._listing import filter_chips, sort_headings
from records_service.web.pages._rows import type_label
from records_service.web.pages.records import PAGE_SIZE, page_links
from records_service.web.pages.upload import contract_choices
from records_service.web.rendering import flash, redirect, render

router = APIRouter(prefix="/retention")

KIND_LABELS = {
    FindingKind.MISSING_RECORD: "Missing records",
    FindingKind.OVERDUE_RETURN: "Overdue returns",
    FindingKind.EXPIRING: "Retention ending soon",
    FindingKind.DISPOSITION_DUE: "Disposal due",
    FindingKind.REVIEW_DUE: "Review due",
    FindingKind.FIXITY_FAILURE: "Fixity failures",
    FindingKind.MISSING_REPLICA: "Missing replicas",
    FindingKind.JOB_ERROR: "Could not be evaluated",
    FindingKind.OVERPAID: "Overpaid",
    FindingKind.SPEND_BEHIND_PROFILE: "Spend behind payments",
    FindingKind.UNSPENT_AT_CLOSURE: "Unspent at closure",
    FindingKind.PAYMENT_WITHOUT_INVOICE: "Payments without an invoice",
    FindingKind.SPEND_UNREPORTED: "Returns without spend",
    FindingKind.PUBLICATION_OVERDUE: "Publication overdue",
    FindingKind.PUBLISHED_COPY_MISSING: "Published copy missing",
}
STATES = ("open", "resolved", "all")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _finding_filters(kind: str | None, contract: str | None, state: str | None) -> FindingFilters:
    known = {k.value for k in FindingKind}
    return FindingFilters(
        kind=FindingKind(kind) if kind in known else None,
        contract=optional(contract),
        state=state if state in STATES else "open",
    )


FINDING_COLUMNS = {
    "contract": "Contract",
    "count": "Findings",
    "first_seen": "First seen",
}
FINDING_FILTERS = {"kind": "Kind", "contract": "Contract", "state": "State"}


@router.get("")
def findings(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInAuditReader,
    kind: Identifier | None = None,
    contract: Identifier | None = None,
    state: Identifier | None = None,
    sort: Identifier = "",
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Findings of the retention job grouped by contract, in words; filtered by kind,
    contract and state, sortable by contract, number of findings and first seen."""
    order = parse_sort(sort, GROUP_SORTS, DEFAULT_GROUP_SORT.text)
    filters = _finding_filters(kind, contract, state)
    groups, total = findings_by_contract(
        session,
        filters=filters,
        schedule=services.schedule,
        user=user,
        page=PageParams(page=page, page_size=PAGE_SIZE),
        sort=order,
    )
    params = {k: v for k, v in request.query_params.items() if v}
    kind_words = {k.value: label for k, label in KIND_LABELS.items()}
    context = {
        "groups": groups,
        # Before the first run, no findings means nothing is known, not that all is well.
        "last_check": last_run_in(session),
        "filters": params,
        "kinds": [(k.value, label) for k, label in KIND_LABELS.items()],
        "states": STATES,
        "pages": page_links(page, PAGE_SIZE, total, params),
        "csv_query": request.url.query,
        "headings": sort_headings("/retention", params, order, FINDING_COLUMNS),
        "chips": filter_chips(
            "/retention",
            params,
            FINDING_FILTERS,
            {"kind": kind_words, "state": {s: s.capitalize() for s in STATES}},
        ),
    }
    return render(request, "retention_findings.html", context, user=user)


@router.get("/findings.csv")
def findings_export(
    session: ReadSessionDep,
    user: SignedInAuditReader,
    kind: Identifier | None = None,
    contract: Identifier | None = None,
    state: Identifier | None = None,
) -> Response:
    """The same findings as a CSV file (every page)."""
    return Response(
        export_findings(session, _finding_filters(kind, contract, state)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="findings.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/run")
def run_now(request: Request, services: ServicesDep, user: SignedInRetentionManager) -> Response:
    """Run the retention job now, as this user (who then cannot approve its proposals)."""
    report = run_retention_now(services, user, RunRequest())
    flash(
        request,
        f"Retention check finished: {_count(report.records, 'record')} checked, "
        f"{_count(report.proposed, 'disposal')} proposed, "
        f"{_count(report.findings_opened, 'new finding')}, "
        f"{report.findings_resolved} resolved.",
    )
    return redirect("/retention")


def _dispositions_page(
    request: Request,
    session: Session,
    services: Services,
    user: User,
    status: str | None,
    page: int,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    known = {s.value for s in DispositionStatus}
    wanted = status if status in known or status == "all" else DispositionStatus.PROPOSED.value
    filters = DispositionFilters(status=None if wanted == "all" else DispositionStatus(wanted))
    rows, total = list_dispositions(
        session, filters=filters, page=PageParams(page=page, page_size=PAGE_SIZE)
    )
    titles = record_labels(session, {r.record_id for r in rows}, user)
    context = {
        "dispositions": rows,
        "titles": {rid: (t, type_label(services.schedule, rt)) for rid, (t, rt) in titles.items()},
        "status": wanted,
        "statuses": ["proposed", "approved", "rejected", "executed", "all"],
        "pages": page_links(page, PAGE_SIZE, total, {"status": wanted}),
        "errors": errors or {},
        "form": form or {},
    }
    code = 422 if errors else 200
    return render(request, "retention_dispositions.html", context, user=user, status_code=code)


@router.get("/dispositions")
def dispositions(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInAuditReader,
    status: Identifier | None = None,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Dispositions, those awaiting a decision first of all."""
    return _dispositions_page(request, session, services, user, status, page)


@router.post("/dispositions/{disposition_id}/decide")
def decide(
    disposition_id: DbId,
    request: Request,
    services: ServicesDep,
    user: SignedInRetentionManager,
    decision: Annotated[FormText, Form()] = "",
    reason: Annotated[FormReason, Form()] = "",
) -> Response:
    """Approve (and carry out) or reject a proposed disposal, with a reason."""
    # A missing reason is the reason box's error; any other refusal is about the
    # decision as a whole, shown above the card's buttons.
    field = f"reason-{disposition_id}"
    error = None
    if decision not in ("approve", "reject"):
        field, error = f"decision-{disposition_id}", "Choose approve or reject"
    elif len(reason.strip()) < 3:
        error = "Give a reason for your decision (at least 3 characters)"
    else:
        try:
            result = decide_disposition(
                services.disposal_context(),
                disposition_id=disposition_id,
                approve=decision == "approve",
                reason=reason.strip(),
                actor=user,
            )
        except DomainError as exc:
            field, error = f"decision-{disposition_id}", _sentence(exc.detail)
    if error is not None:
        with session_scope(services.engine) as session:
            return _dispositions_page(
                request,
                session,
                services,
                user,
                "proposed",
                1,
                {field: error},
                {f"reason-{disposition_id}": reason},
            )
    if result.error:
        flash(request, f"Approved, but not yet carried out: {result.error}", "error")
    else:
        done = "rejected" if decision == "reject" else f"approved and {result.status}"
        flash(request, f"Disposition {disposition_id} {done}.")
    return redirect("/retention/dispositions")


def _holds_page(
    request: Request,
    session: Session,
    user: User,
    active: str | None,
    page: int,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    flag = {"active": True, "released": False}.get(active or "active")
    rows, total = list_holds(
        session, filters=HoldFilters(active=flag), page=PageParams(page=page, page_size=PAGE_SIZE)
    )
    picked = (form or {}).get("record_id", "")
    labels = record_labels(session, {picked}, user) if picked else {}
    context = {
        "holds": rows,
        "picked_record": labels.get(picked),
        "contracts": contract_choices(session),
        "active": active if active in ("active", "released", "all") else "active",
        "pages": page_links(page, PAGE_SIZE, total, {"active": active}),
        "form": form or {},
        "errors": errors or {},
    }
    code = 422 if errors else 200
    return render(request, "retention_holds.html", context, user=user, status_code=code)


@router.get("/holds")
def holds(
    request: Request,
    session: ReadSessionDep,
    user: SignedInAuditReader,
    active: Identifier | None = None,
    record_id: Identifier | None = None,
    contract: Identifier | None = None,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Holds (active by default); ``record_id`` or ``contract`` prefill the new-hold form."""
    form = {"record_id": record_id or "", "contract": contract or ""}
    return _holds_page(request, session, user, active, page, form)


NOTHING_TO_HOLD = (
    "Choose the contract to hold by its reference or title, or pick records: tick them on "
    "the Records list and choose Place a hold"
)


@router.post("/holds")
def place(
    request: Request,
    services: ServicesDep,
    user: SignedInRetentionManager,
    record_id: Annotated[FormText, Form()] = "",
    contract: Annotated[FormText, Form()] = "",
    reference: Annotated[FormText, Form()] = "",
    reason: Annotated[FormReason, Form()] = "",
) -> Response:
    """Place a hold on a record picked on its page, or on every record of a contract
    picked by its reference or title."""
    form = {"record_id": record_id, "contract": contract, "reference": reference, "reason": reason}
    # What to hold is checked apart from the other fields, so every error shows at once.
    errors = _scope_error(optional(record_id), optional(contract))
    hold = None
    try:
        body = HoldCreate(
            record_id=optional(record_id),
            contract=_contract_named(services, contract) if not optional(record_id) else None,
            reference=reference.strip(),
            reason=reason.strip(),
        )
        if not errors:  # nothing is placed while what to hold is in doubt
            hold = place_hold(services.hold_context(), request=body, actor=user)
    except ValidationError as exc:
        errors = _hold_errors(exc) | errors
    except DomainError as exc:
        errors = {"contract" if "contract" in exc.detail else "record_id": _sentence(exc.detail)}
    if errors or hold is None:
        with session_scope(services.engine) as session:
            return _holds_page(request, session, user, "active", 1, form, errors)
    flash(request, f"Hold {hold.reference} placed.")
    return redirect("/retention/holds")


def _scope_error(record_id: str | None, contract: str | None) -> dict[str, str]:
    if record_id is None and contract is None:
        return {"contract": NOTHING_TO_HOLD}
    if record_id is not None and contract is not None:
        return {"contract": "Choose a contract or records to hold, not both"}
    return {}


def _contract_named(services: Services, name: str) -> str | None:
    """The reference of the contract picked by ``name`` (its reference or title)."""
    if not optional(name):
        return None
    with read_scope(services.engine) as session:
        return contract_by_name(session, name.strip()).reference


def _hold_errors(exc: ValidationError) -> dict[str, str]:
    messages = {
        "reference": "Enter the case reference, for example FOI-2026-0142",
        "reason": "Say why the hold is needed (at least 3 characters)",
    }
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "contract"
        errors.setdefault(name, messages.get(name, NOTHING_TO_HOLD))
    return errors


@router.post("/holds/{hold_id}/release")
def release(
    hold_id: DbId,
    request: Request,
    services: ServicesDep,
    user: SignedInRetentionManager,
    reason: Annotated[FormReason, Form()] = "",
) -> Response:
    """Release a hold, with the reason."""
    field = f"release-{hold_id}"
    error = None
    if len(reason.strip()) < 3:
        error = "Say why the hold is released (at least 3 characters)"
    else:
        try:
            hold = release_hold(
                services.hold_context(), hold_id=hold_id, reason=reason.strip(), actor=user
            )
        except DomainError as exc:
            error = _sentence(exc.detail)
    if error is not None:
        with session_scope(services.engine) as session:
            return _holds_page(request, session, user, "active", 1, {field: reason}, {field: error})
    flash(request, f"Hold {hold.reference} released.")
    return redirect("/retention/holds")
