"""Findings: drafting them from decisions and gaps, reconciling them, listing and CSV.

Owns the wording and the stable key of each kind of finding, and the idempotent
upsert: a draft whose key has an open finding updates it (``last_seen``, details);
a new key opens a finding; an open finding with no draft this run is resolved,
unless the caller says its cause was not examined (a fixity sample). The retention
job supplies the drafts; the API and the CLI list the rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col, select

from records_service.contracts.models import Contract
from records_service.finance.reconcile import MoneyIssue
from records_service.pagination import PageParams
from records_service.records.models import Record
from records_service.records.text import MissingContent
from records_service.retention.completeness import Gap
from records_service.retention.known_gaps import describe, gaps_for_export, reason_label
from records_service.retention.models import Finding, FindingKind, KnownGap
from records_service.retention.policy import Decision
from records_service.retention.schemas import GapPublic
from records_service.transparency.service import RegisterIssue

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class FindingDraft:
    """A finding as the job computes it, before it meets the table."""

    kind: FindingKind
    key: str
    subject: str
    summary: str
    details: dict[str, Any]
    contract_ref: str | None = None
    record_id: str | None = None

    @property
    def details_json(self) -> str:
        """Details as canonical JSON (so an unchanged finding compares equal)."""
        return _CANONICAL.encode(self.details)


def gap_finding(gap: Gap, known: KnownGap | None = None) -> FindingDraft:
    """A ``missing_record`` or ``overdue_return`` finding for a completeness gap.

    ``known`` is the open known gap that explains it, if one does: the summary and
    the details then say what happened; otherwise they say the gap is unexplained.
    """
    types = " or ".join(gap.record_types)
    if gap.kind == "overdue_return":
        summary = (
            f"{gap.contract_reference}: no {types} for the quarter {gap.quarter_start} to "
            f"{gap.quarter_end}; due {gap.due_date}, {gap.days_overdue} days overdue"
        )
    else:
        summary = f"{gap.contract_reference}: {gap.label} (missing {types})"
        if gap.days_overdue is not None:
            summary += f"; due {gap.due_date}, {gap.days_overdue} days overdue"
    details = gap.to_dict()
    if known is None:
        summary += "; unexplained"
        details["explanation"] = "unexplained"
    else:
        summary += f"; {describe(known)}"
        details["explanation"] = "known_gap"
        details["known_gap"] = _known_details(known)
    return FindingDraft(
        kind=FindingKind(gap.kind),
        key=f"{gap.kind}:{gap.key}",
        subject=f"contract:{gap.contract_reference}",
        summary=summary,
        details=details,
        contract_ref=gap.contract_reference,
    )


def _known_details(known: KnownGap) -> dict[str, Any]:
    return {
        "id": known.id,
        "reason": known.reason,
        "period_start": known.period_start.isoformat(),
        "period_end": known.period_end.isoformat(),
        "evidence": known.evidence,
        "reported_by": known.reported_by,
    }


def decision_finding(
    kind: FindingKind,
    record_id: str,
    contract_ref: str | None,
    record_type: str,
    decision: Decision,
) -> FindingDraft:
    """An ``expiring``, ``review_due`` or ``disposition_due`` finding for one record."""
    until = decision.retain_until.until
    details = {
        "record_type": record_type,
        "retain_until": until.isoformat() if until else None,
        "action": decision.action,
        "reason": decision.reason,
    }
    match kind:
        case FindingKind.EXPIRING:
            summary = f"{record_type} {record_id}: {decision.reason}"
        case FindingKind.REVIEW_DUE:
            summary = f"{record_type} {record_id}: review due; {decision.reason}"
        case _:
            summary = (
                f"{record_type} {record_id}: retention ended on {until}; "
                f"{decision.action} awaits approval"
            )
    return FindingDraft(
        kind=kind,
        key=f"{kind.value}:{record_id}",
        subject=f"record:{record_id}",
        summary=summary,
        details=details,
        contract_ref=contract_ref,
        record_id=record_id,
    )


def fixity_finding(
    *, record_id: str, contract_ref: str | None, version: int, key: str, problem: str, **extra: Any
) -> FindingDraft:
    """A ``fixity_failure``: the stored object is missing or its bytes changed."""
    return FindingDraft(
        kind=FindingKind.FIXITY_FAILURE,
        key=f"fixity_failure:{key}",
        subject=f"record:{record_id}",
        summary=f"record {record_id} version {version} ({key}): {problem}",
        details={"storage_key": key, "version": version, "problem": problem, **extra},
        contract_ref=contract_ref,
        record_id=record_id,
    )


def job_error_finding(
    *, contract_ref: str | None, record_id: str | None, problem: str
) -> FindingDraft:
    """A ``job_error``: the job could not evaluate one record or one contract.

    Names a record when ``record_id`` is given, else the contract. The run went on
    for everything else; the finding resolves on the first run that evaluates it.
    """
    if record_id is not None:
        subject = f"record:{record_id}"
        summary = f"record {record_id} could not be evaluated: {problem}"
    else:
        subject = f"contract:{contract_ref}"
        summary = f"contract {contract_ref} could not be evaluated: {problem}"
    return FindingDraft(
        kind=FindingKind.JOB_ERROR,
        key=f"job_error:{subject}",
        subject=subject,
        summary=summary,
        details={"problem": problem},
        contract_ref=contract_ref,
        record_id=record_id,
    )


def money_finding(issue: MoneyIssue, contract_ref: str) -> FindingDraft:
    """A reconciliation finding (``overpaid``, ``spend_behind_profile``, ...) on a contract."""
    subject = f"record:{issue.record_id}" if issue.record_id else f"contract:{contract_ref}"
    return FindingDraft(
        kind=FindingKind(issue.kind),
        key=issue.key,
        subject=subject,
        summary=issue.summary,
        details=issue.details,
        contract_ref=contract_ref,
        record_id=issue.record_id,
    )


def register_finding(issue: RegisterIssue) -> FindingDraft:
    """A transparency register finding (``publication_overdue``, ``published_copy_missing``)."""
    return FindingDraft(
        kind=FindingKind(issue.kind),
        key=issue.key,
        subject=issue.subject,
        summary=issue.summary,
        details=issue.details,
        contract_ref=issue.contract,
        record_id=issue.record_id,
    )


@dataclass
class ReconcileOutcome:
    """What reconciling one run's drafts did to the table."""

    opened: int = 0
    updated: int = 0
    unchanged: int = 0
    resolved: int = 0
    opened_keys: list[str] = field(default_factory=list)


def reconcile(
    session: Session,
    drafts: Iterable[FindingDraft],
    *,
    now: datetime,
    examined: Callable[[str, str], bool] = lambda _kind, _key: True,
) -> ReconcileOutcome:
    """Upsert ``drafts`` and resolve open findings that have none.

    An open finding without a draft stays open when ``examined(kind, key)`` says
    this run did not look at its cause. Runs in the caller's transaction, with bulk
    statements (a first run over a large archive opens thousands of findings).
    """
    outcome = ReconcileOutcome()
    connection = session.connection()  # Core rows: the ORM's per-row loading is not needed
    existing = {row.key: row for row in connection.execute(_OPEN_FINDINGS)}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for draft in drafts:
        details, summary = draft.details_json, draft.summary[:500]
        row = existing.pop(draft.key, None)
        if row is None:
            inserts.append(_new_row(draft, details, summary, now))
            outcome.opened_keys.append(draft.key)
        elif (row.last_seen, row.details, row.summary) != (now, details, summary):
            updates.append({"id": row.id, "last_seen": now, "details": details, "summary": summary})
        else:
            outcome.unchanged += 1
    resolved = [row.id for row in existing.values() if examined(row.kind, row.key)]
    for start in range(0, len(inserts), _BULK):
        connection.execute(insert(_TABLE), inserts[start : start + _BULK])
    if updates:
        connection.execute(_UPDATE, [{"b_id": row.pop("id"), **row} for row in updates])
    if resolved:
        connection.execute(_RESOLVE, [{"b_id": i, "resolved_at": now} for i in resolved])
    outcome.opened, outcome.updated, outcome.resolved = len(inserts), len(updates), len(resolved)
    return outcome


_BULK = 5000
_TABLE = SQLModel.metadata.tables["findings"]
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(
        last_seen=bindparam("last_seen"),
        details=bindparam("details"),
        summary=bindparam("summary"),
    )
)
_RESOLVE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(resolved_at=bindparam("resolved_at"))
)
_OPEN_FINDINGS = core_select(
    col(Finding.id),
    col(Finding.kind),
    col(Finding.key),
    col(Finding.summary),
    col(Finding.details),
    col(Finding.last_seen),
).where(col(Finding.resolved_at).is_(None))


def _new_row(draft: FindingDraft, details: str, summary: str, now: datetime) -> dict[str, Any]:
    return {
        "kind": draft.kind.value,
        "subject": draft.subject,
        "key": draft.key,
        "contract_ref": draft.contract_ref,
        "record_id": draft.record_id,
        "summary": summary,
        "details": details,
        "first_seen": now,
        "last_seen": now,
    }


def open_findings(session: Session, drafts: Sequence[FindingDraft], now: datetime) -> int:
    """Open each draft's finding, or refresh the open one with its key; returns how many
    were opened. Unlike :func:`reconcile`, leaves every other finding as it is: for
    causes found outside the retention job, which re-examines them on its next run."""
    existing = {
        row.key: row
        for row in session.exec(
            select(Finding).where(
                col(Finding.key).in_([draft.key for draft in drafts]),
                col(Finding.resolved_at).is_(None),
            )
        )
    }
    opened = 0
    for draft in drafts:
        row = existing.get(draft.key)
        if row is None:
            session.execute(
                insert(_TABLE), [_new_row(draft, draft.details_json, draft.summary[:500], now)]
            )
            opened += 1
        else:
            row.last_seen = now
            session.add(row)
    return opened


def missing_content_findings(
    session: Session, missing: Sequence[MissingContent], now: datetime
) -> int:
    """``fixity_failure`` findings for versions whose content was found missing outside a
    fixity check (by text extraction); the job's next fixity pass re-examines them."""
    record_ids = {item.record_id for item in missing}
    references = dict(
        session.exec(
            select(Record.id, Contract.reference)
            .join(Contract, col(Contract.id) == col(Record.contract_id))
            .where(col(Record.id).in_(record_ids))
        ).all()
    )
    drafts = [
        fixity_finding(
            record_id=item.record_id,
            contract_ref=references.get(item.record_id),
            version=item.number,
            key=item.key,
            problem="stored object is missing",
        )
        for item in missing
    ]
    return open_findings(session, drafts, now)


def resolve_for_record(session: Session, record_id: str, now: datetime) -> int:
    """Resolve every open finding about one record (it has just been disposed of)."""
    rows = session.exec(
        select(Finding).where(Finding.record_id == record_id, col(Finding.resolved_at).is_(None))
    )
    count = 0
    for row in rows:
        row.resolved_at = now
        session.add(row)
        count += 1
    return count


@dataclass(frozen=True)
class FindingFilters:
    """Filters for listing findings; ``state`` is ``open``, ``resolved`` or ``all``."""

    kind: FindingKind | None = None
    contract: str | None = None
    record_id: str | None = None
    state: str = "open"
    seen_from: date | None = None


def finding_conditions(filters: FindingFilters) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the findings that match ``filters``."""
    conditions: list[ColumnElement[bool]] = []
    if filters.kind is not None:
        conditions.append(col(Finding.kind) == filters.kind.value)
    if filters.contract:
        conditions.append(col(Finding.contract_ref) == filters.contract)
    if filters.record_id:
        conditions.append(col(Finding.record_id) == filters.record_id)
    if filters.state == "open":
        conditions.append(col(Finding.resolved_at).is_(None))
    elif filters.state == "resolved":
        conditions.append(col(Finding.resolved_at).is_not(None))
    return conditions


def _filtered(filters: FindingFilters) -> Any:
    return select(Finding).where(*finding_conditions(filters))


_ORDER = (col(Finding.kind), col(Finding.key), col(Finding.id))


def list_findings(
    session: Session, *, filters: FindingFilters, page: PageParams | None = None
) -> tuple[list[Finding], int]:
    """Findings matching ``filters`` ordered by kind and key (a page of them, if given)."""
    statement = _filtered(filters)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    ordered = statement.order_by(*_ORDER)
    if page is not None:
        ordered = ordered.offset(page.offset).limit(page.page_size)
    return list(session.exec(ordered)), int(total)


def open_counts(session: Session) -> dict[str, int]:
    """``kind -> number`` of open findings, for the kinds that have any."""
    count = func.count()
    rows = session.exec(
        select(Finding.kind, count).where(col(Finding.resolved_at).is_(None)).group_by(Finding.kind)
    )
    return dict(rows.all())


CSV_COLUMNS = (
    "kind",
    "subject",
    "contract",
    "record_id",
    "summary",
    "first_seen",
    "last_seen",
    "resolved_at",
    "key",
)


def findings_csv(rows: Sequence[Finding], gaps: Sequence[GapPublic] = ()) -> str:
    """Findings as CSV text, one row each, with a header (the API and CLI share it).

    The register's known ``gaps`` follow as rows of kind ``known_gap``: subject and
    contract are the contract's, ``record_id`` the record found for a closed gap,
    ``first_seen`` when the gap was recorded and ``resolved_at`` when it was closed.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        resolved = row.resolved_at.isoformat() if row.resolved_at else ""
        writer.writerow(
            [
                row.kind,
                row.subject,
                row.contract_ref or "",
                row.record_id or "",
                _csv_safe(row.summary),
                row.first_seen.isoformat(),
                row.last_seen.isoformat(),
                resolved,
                row.key,
            ]
        )
    for gap in gaps:
        writer.writerow(_gap_row(gap))
    return out.getvalue()


def export_findings(session: Session, filters: FindingFilters) -> str:
    """The CSV of the findings matching ``filters`` and, unless the filters name a kind
    or a record, the known gaps of the same contract (or all) in the same state."""
    rows, _ = list_findings(session, filters=filters)
    gaps: list[GapPublic] = []
    if filters.kind is None and filters.record_id is None:
        gaps = gaps_for_export(session, contract=filters.contract, state=filters.state)
    return findings_csv(rows, gaps)


def _gap_row(gap: GapPublic) -> list[str]:
    summary = (
        f"{gap.contract}: {gap.record_type} for {gap.period_start} to {gap.period_end} "
        f"{reason_label(gap.reason)}, reported by {gap.reported_by}; evidence: {gap.evidence}"
    )
    last = gap.closed_at or gap.recorded_at
    return [
        "known_gap",
        f"contract:{gap.contract}",
        gap.contract,
        gap.found_record or "",
        _csv_safe(" ".join(summary.split())),
        gap.recorded_at.isoformat(),
        last.isoformat(),
        gap.closed_at.isoformat() if gap.closed_at else "",
        f"known_gap:{gap.id}",
    ]


def _csv_safe(text: str) -> str:
    # A spreadsheet runs a cell starting with these as a formula (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
