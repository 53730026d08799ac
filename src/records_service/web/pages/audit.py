"""Audit pages: the log's entries with filters, the latest signed checkpoint, and a
button that verifies the whole log (as ``records-service audit verify`` does).

Entries are listed newest first unless ``order=oldest`` is asked for; actions are
named in words, and a record's title and contract are shown next to its id.

Everything here needs ``read_audit``, as under ``/api/audit``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from records_service.audit.actions import AuditAction
from records_service.audit.checkpoint import CheckpointError
from records_service.audit.keys import trusted_keys
from records_service.audit.log import log_size
from records_service.audit.service import (
    ENTRY_SORTS,
    EntryFilters,
    EntryView,
    latest_checkpoint,
    list_entries,
)
from records_service.audit.verify import VerifyReport, verify_log
from records_service.audit.writer import build_checkpoint_store
from records_service.auth.models import User
from records_service.bounds import PageNumber
from records_service.db import session_scope
from records_service.errors import DomainError, NotFound
from records_service.pagination import PageParams, Sort, parse_sort
from records_service.records.service import record_titles
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.runtime.services import Services
from records_service.web.deps import SignedInAuditReader
from records_service.web.pages._forms import date_parts, filter_text, read_date
from records_service.web.pages._listing import filter_chips, sort_headings
from records_service.web.pages.records import page_links
from records_service.web.rendering import render

router = APIRouter(prefix="/audit")

PAGE_SIZE = 50

# Each action in words; the dotted name is shown under it for matching the CLI and API.
ACTION_NAMES: dict[AuditAction, str] = {
    AuditAction.RECORD_CAPTURE: "Record captured",
    AuditAction.RECORD_VERSION: "New version added",
    AuditAction.RECORD_UPDATE: "Record details changed",
    AuditAction.RECORD_READ: "Record viewed or downloaded",
    AuditAction.RECORD_READ_REPLICA: "Served from the replica (primary copy damaged or lost)",
    AuditAction.SEARCH_QUERY: "Search",
    AuditAction.CONTRACT_CREATE: "Contract added",
    AuditAction.CONTRACT_UPDATE: "Contract changed",
    AuditAction.USER_CREATE: "User added",
    AuditAction.USER_DISABLE: "User disabled",
    AuditAction.USER_ENABLE: "User enabled again",
    AuditAction.USER_ROLES: "User's roles changed",
    AuditAction.USER_PASSWORD: "Password set",
    AuditAction.TOKEN_ISSUE: "API token issued",
    AuditAction.TOKEN_REVOKE: "API token revoked",
    AuditAction.AUTH_FAILURE: "Sign-in or token refused",
    AuditAction.AUTH_SIGN_IN: "Signed in",
    AuditAction.AUTH_SIGN_OUT: "Signed out",
    AuditAction.AUTH_LOCKOUT: "Sign-in locked",
    AuditAction.AUTH_UNLOCK: "Sign-in lock released",
    AuditAction.HOLD_PLACE: "Hold placed",
    AuditAction.HOLD_RELEASE: "Hold released",
    AuditAction.DISPOSITION_PROPOSE: "Disposal proposed",
    AuditAction.DISPOSITION_APPROVE: "Disposal approved",
    AuditAction.DISPOSITION_REJECT: "Disposal rejected",
    AuditAction.DISPOSITION_EXECUTE: "Disposal carried out",
    AuditAction.RETENTION_RUN: "Retention check run",
    AuditAction.AUDIT_ROLLBACK_ACKNOWLEDGED: "Lost audit entries acknowledged",
    AuditAction.CATALOGUE_RECOVER: "Catalogue recovered from the store",
    AuditAction.DISPOSITION_RECOVER: "Disposal brought back from the store's note",
    AuditAction.DISPOSITION_LEFTOVERS_DELETED: "Restored content of a disposed record deleted",
    AuditAction.HOLD_RECOVER: "Hold brought back from the store's note",
    AuditAction.IMPORT_START: "Import run started",
    AuditAction.IMPORT_FINISH: "Import run finished",
    AuditAction.IMPORT_DUPLICATE: "Imported file already held (duplicate sighting)",
    AuditAction.FINANCE_AWARD: "Award details recorded",
    AuditAction.FINANCE_VARIATION: "Contract value varied",
    AuditAction.FINANCE_INSTALMENT: "Payment instalment planned",
    AuditAction.FINANCE_PAYMENT: "Payment recorded",
    AuditAction.FINANCE_IMPORT: "Payments imported",
    AuditAction.FINANCE_INVOICE_LINK: "Payment linked to its invoice",
    AuditAction.FINANCE_SPEND: "Provider's spend recorded",
    AuditAction.FINANCE_RECOVERY: "Unspent funds recovered",
    AuditAction.TRANSPARENCY_PUBLISH: "Publication recorded",
    AuditAction.RECORD_PART: "Attachment taken from a message",
    AuditAction.GAP_RECORD: "Known gap recorded",
    AuditAction.GAP_CLOSE: "Known gap closed",
}


def _day_start(day: date | None, *, next_day: bool = False) -> datetime | None:
    if day is None:
        return None
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


def _filters(
    params: dict[str, str], wrong: dict[str, tuple[str, ...]]
) -> tuple[EntryFilters, dict[str, str]]:
    """Filters from the query; dates are whole days (UTC), the 'to' day included. Date
    boxes that cannot be read are noted in ``wrong``."""
    errors: dict[str, str] = {}
    known = {a.value for a in AuditAction}
    action = params.get("action") or None
    days: dict[str, date | None] = {}
    for name, label in (("from", "From"), ("to", "To")):
        entry = read_date(params, name, label)
        days[name] = entry.day
        if entry.error:
            errors[name], wrong[name] = entry.error, entry.wrong
    filters = EntryFilters(
        subject=filter_text(params.get("subject"), "subject", errors),
        actor=filter_text(params.get("actor"), "actor", errors),
        action=AuditAction(action) if action in known else None,
        since=_day_start(days["from"]),
        until=_day_start(days["to"], next_day=True),
    )
    return filters, errors


ENTRY_COLUMNS = {"when": "When", "who": "Who", "action": "Action"}
ENTRY_FILTERS = {"subject": "Subject", "actor": "Who", "action": "Action"}


def _action_words() -> dict[str, str]:
    return {action.value: name for action, name in ACTION_NAMES.items()}


def _without_order(params: dict[str, str]) -> dict[str, str]:
    """The query without ``order``: a sorted heading says the order itself."""
    return {k: v for k, v in params.items() if k != "order"}


def _with_boxes(params: dict[str, str], filters: EntryFilters) -> dict[str, str]:
    """The form's values, with a date given as one value (a link) in its three boxes."""
    form = dict(params)
    given = {
        "from": filters.since,
        "to": filters.until - timedelta(days=1) if filters.until else None,
    }
    for name, moment in given.items():
        if moment is not None and name in params and not params.get(f"{name}_day"):
            form |= date_parts(name, moment.date())
    return form


def _record_ids(entries: list[EntryView]) -> set[str]:
    return {e.subject[len("record:") :] for e in entries if e.subject.startswith("record:")}


def _checkpoint(session: Session) -> dict[str, Any] | None:
    try:
        row, parsed = latest_checkpoint(session)
    except (NotFound, CheckpointError):
        return None
    return {
        "tree_size": parsed.tree_size,
        "root_hash": parsed.root_hash.hex(),
        "timestamp": parsed.timestamp,
        "created_at": row.created_at,
        "origin": parsed.origin,
        "note": row.note,
    }


def _audit_page(
    request: Request,
    session: Session,
    user: User,
    page: int,
    report: VerifyReport | None = None,
) -> Response:
    params = dict(request.query_params)
    wrong: dict[str, tuple[str, ...]] = {}
    filters, errors = _filters(params, wrong)
    # order=oldest (the older form of sort=when) is still understood.
    default = "when" if params.get("order") == "oldest" else "-when"
    order = parse_sort(params.get("sort"), ENTRY_SORTS, default)
    oldest_first = order == Sort("when")
    try:
        entries, total = list_entries(
            session,
            filters=filters,
            page=PageParams(page=page, page_size=PAGE_SIZE),
            sort=order,
        )
    except DomainError as exc:
        errors["to"] = exc.detail[:1].upper() + exc.detail[1:]
        entries, total = [], 0
    context = {
        "entries": entries,
        "details": {
            e.index: json.dumps(e.details, ensure_ascii=False, sort_keys=True) for e in entries
        },
        "filters": params,
        "errors": errors,
        "actions": sorted(ACTION_NAMES.items(), key=lambda item: item[1]),
        "action_names": {a.value: name for a, name in ACTION_NAMES.items()},
        "records": record_titles(session, _record_ids(entries), user),
        "oldest_first": oldest_first,
        "date_wrong": wrong,
        "form": _with_boxes(params, filters),
        "headings": sort_headings("/audit", _without_order(params), order, ENTRY_COLUMNS),
        "chips": filter_chips("/audit", params, ENTRY_FILTERS, {"action": _action_words()}),
        # Absolute, so the links after Verify (answered at /audit/verify) lead to the log.
        "pages": page_links(page, PAGE_SIZE, total, params, path="/audit"),
        "checkpoint": _checkpoint(session),
        "size": log_size(session),
        "report": report,
    }
    return render(request, "audit.html", context, user=user, status_code=422 if errors else 200)


@router.get("")
def audit_log(
    request: Request,
    session: ReadSessionDep,
    user: SignedInAuditReader,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Entries, newest first (``order=oldest`` for log order), the latest checkpoint
    and the verify button."""
    return _audit_page(request, session, user, page)


def verify_now(services: Services) -> VerifyReport:
    """Verify the whole log against the trusted keys and the write-once checkpoint copies."""
    settings = services.settings
    return verify_log(
        services.engine,
        checkpoint_store=build_checkpoint_store(settings, services.store),
        trusted_keys=trusted_keys(settings),
        origin=settings.audit.origin,
        processes=1,  # a request thread should not take every core of the server
    )


@router.post("/verify")
def verify(request: Request, services: ServicesDep, user: SignedInAuditReader) -> Response:
    """Verify the log now and show the report on the audit page."""
    report = verify_now(services)
    with session_scope(services.engine) as session:
        return _audit_page(request, session, user, 1, report)
