"""The retention job: evaluate every record and contract as of a day and write what it finds.

Owns the run's phases and its report. Each phase may assume the ones before it:

1. **Scan** (short read transactions, in batches): every contract's facts, the active
   holds, then the records in id order. Each record gets its pure decision
   (:func:`~records_service.retention.policy.disposal_decision`); each contract its
   completeness gaps (:func:`~records_service.retention.completeness.evaluate_contract`).
2. **Store** (no transaction open): the fixity check re-hashes stored versions
   (a random sample, all, or none) and, where the store has object lock, retention
   dates and legal holds are mirrored onto the objects of records whose lock changed.
3. **Write** (one transaction, runs serialised): proposals for records past
   retention (no duplicates; a rejected proposal is not repeated for the same
   date), findings reconciled (same key updates, new key opens, cause gone
   resolves), lock mirrors remembered, and one ``retention.run`` audit entry.
   A dry run does all of it and rolls back.

Running twice as of the same moment changes nothing the second time.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import Engine, String, func, insert, text, type_coerce
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col, select

from records_service.audit.actions import AuditAction, GenericPayload
from records_service.audit.log import record_event
from records_service.audit.models import AuditEntry
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.db import is_sqlite, session_scope
from records_service.records.models import DISPOSED_STATUSES, Record, Version
from records_service.retention.completeness import evaluate_contract
from records_service.retention.facts import contract_facts
from records_service.retention.findings import (
    FindingDraft,
    decision_finding,
    fixity_finding,
    gap_finding,
    reconcile,
)
from records_service.retention.models import (
    Disposition,
    DispositionStatus,
    Finding,
    FindingKind,
    Hold,
    LockMirror,
)
from records_service.retention.object_lock import (
    LockTarget,
    apply_lock,
    needs_mirroring,
    record_keys,
    remember,
)
from records_service.retention.policy import (
    ContractFacts,
    Decision,
    RecordFacts,
    disposal_decision,
)
from records_service.retention.schedule import RetentionSchedule
from records_service.settings import Settings
from records_service.storage import BlobStore, ObjectNotFound, StorageError

log = logging.getLogger(__name__)

RUN_SUBJECT = "retention:run"
PROPOSALS_PER_ENTRY = 1000
_DISPOSITIONS = SQLModel.metadata.tables["dispositions"]
# Any constant will do: it names the lock that keeps two runs from writing at once.
_PG_RUN_LOCK = 0x7265_7465


class RunReport(BaseModel):
    """What one run saw and did (a dry run reports what it would have done)."""

    as_of: date
    dry_run: bool
    actor: str
    started_at: datetime
    seconds: float = 0.0
    phase_seconds: dict[str, float] = {}
    records: int = 0
    contracts: int = 0
    decisions: dict[str, int] = {}
    proposed: int = 0
    findings_opened: int = 0
    findings_updated: int = 0
    findings_resolved: int = 0
    open_findings: dict[str, int] = {}
    fixity_mode: str = "off"
    fixity_checked: int = 0
    fixity_failures: int = 0
    locks_mirrored: int = 0
    errors: list[str] = []


@dataclass(frozen=True)
class _Contract:
    facts: ContractFacts
    reference: str


@dataclass(frozen=True)
class _Candidate:
    """A record whose retention has ended with a destroy or transfer action."""

    record_id: str
    record_type: str
    contract_ref: str | None
    decision: Decision


class _OnFile(NamedTuple):
    """A record on a contract's file, as completeness sees it (a plain tuple: cheap to keep)."""

    record_type: str
    record_date: date


@dataclass
class _Scan:
    records: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    drafts: list[FindingDraft] = field(default_factory=list)
    candidates: list[_Candidate] = field(default_factory=list)
    lock_targets: list[tuple[LockTarget, LockMirror | None]] = field(default_factory=list)
    files: dict[int, list[_OnFile]] = field(default_factory=lambda: defaultdict(list))


@dataclass(frozen=True)
class _Inputs:
    engine: Engine
    store: BlobStore
    schedule: RetentionSchedule
    settings: Settings
    at: date
    mirror_locks: bool


Progress = Callable[[int], None]


def count_records(engine: Engine) -> int:
    """How many records a run will scan (for a progress bar)."""
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(Record)).one())


def run_retention(
    *,
    engine: Engine,
    store: BlobStore,
    schedule: RetentionSchedule,
    settings: Settings,
    actor: str,
    clock: Clock,
    at: date | None = None,
    dry_run: bool = False,
    fixity: str | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Run the retention job as of ``at`` (default: the clock's today) and report.

    ``actor`` is the user who started the run, or ``system`` when it is scheduled;
    it is recorded as the proposer of any disposition. ``fixity`` overrides the
    configured mode (``off``, ``sample``, ``full``).
    """
    started, tick = clock(), time.perf_counter()
    inputs = _Inputs(
        engine,
        store,
        schedule,
        settings,
        at or started.date(),
        store.supports_object_lock and not dry_run,
    )
    mode = fixity or settings.retention.fixity
    report = RunReport(
        as_of=inputs.at, dry_run=dry_run, actor=actor, started_at=started, fixity_mode=mode
    )
    timer = _PhaseTimer(report)
    with _cyclic_gc_paused():
        contracts = _load_contracts(engine)
        scan = _scan(inputs, contracts, progress or (lambda _n: None))
        timer.lap("scan")
        _completeness(inputs, contracts, scan)
        timer.lap("completeness")
    fixity_drafts, checked = _fixity(inputs, contracts, mode, report)
    timer.lap("fixity")
    mirrored = _mirror_locks(inputs, scan.lock_targets, report)
    timer.lap("object_lock")
    report.records, report.contracts = scan.records, len(contracts)
    report.decisions = dict(sorted(scan.decisions.items()))
    with _cyclic_gc_paused():
        _write(inputs, scan, fixity_drafts, checked, mirrored, actor, clock, report)
    timer.lap("write")
    report.seconds = round(time.perf_counter() - tick, 3)
    return report


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a CPU-bound phase of a few seconds.

    A run allocates about a million objects and keeps a good share of them (the
    files of every contract, the drafts), so the collector keeps re-scanning the
    whole heap: measured at 30 to 45% of the scan. Reference counting still frees
    everything acyclic meanwhile; anything cyclic waits until the phase ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _PhaseTimer:
    """Records the seconds each phase took into the report."""

    def __init__(self, report: RunReport) -> None:
        self._report = report
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self._report.phase_seconds[phase] = round(now - self._last, 3)
        self._last = now


def _completeness(inputs: _Inputs, contracts: dict[int, _Contract], scan: _Scan) -> None:
    """Drafts for every contract's completeness gaps."""
    rules = inputs.schedule.completeness
    for cid, info in contracts.items():
        gaps = evaluate_contract(info.facts, scan.files.get(cid, []), rules, inputs.at)
        scan.drafts.extend(gap_finding(gap) for gap in gaps)


def _load_contracts(engine: Engine) -> dict[int, _Contract]:
    with session_scope(engine) as session:
        rows = session.exec(select(Contract))
        return {
            row.id: _Contract(contract_facts(row), row.reference)
            for row in rows
            if row.id is not None
        }


def _load_holds(engine: Engine) -> tuple[set[str], set[int]]:
    """Record ids held directly, and contract ids held as a whole."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(Hold.record_id, Hold.contract_id).where(col(Hold.released_at).is_(None))
        )
        records: set[str] = set()
        contracts: set[int] = set()
        for record_id, contract_id in rows:
            if record_id is not None:
                records.add(record_id)
            if contract_id is not None:
                contracts.add(contract_id)
        return records, contracts


def _load_mirrors(engine: Engine) -> dict[str, LockMirror]:
    with session_scope(engine) as session:
        return {row.record_id: row for row in session.exec(select(LockMirror))}


# The two dates come through untyped and are parsed by ``_day``: SQLAlchemy's per-row
# date processors cost more than all the policy decisions on SQLite.
_RECORD_COLUMNS = (
    col(Record.id),
    col(Record.record_type),
    col(Record.contract_id),
    type_coerce(col(Record.record_date), String),
    type_coerce(col(Record.captured_at), String),
    col(Record.status),
    col(Record.current_version),
)


def _day(value: Any) -> date:
    """The (UTC) day of a DATE or UTC timestamp column, as text (SQLite) or an object."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def _record_batches(engine: Engine, size: int) -> Iterator[Sequence[Any]]:
    """Records in id order, ``size`` at a time, each batch in its own short transaction."""
    last = ""
    while True:
        with engine.begin() as connection:  # Core rows, without the ORM's loading
            batch = connection.execute(
                core_select(*_RECORD_COLUMNS)
                .where(col(Record.id) > last)
                .order_by(col(Record.id))
                .limit(size)
            ).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _scan(inputs: _Inputs, contracts: dict[int, _Contract], progress: Progress) -> _Scan:
    scan = _Scan()
    held_records, held_contracts = _load_holds(inputs.engine)
    mirrors = _load_mirrors(inputs.engine) if inputs.mirror_locks else {}
    for batch in _record_batches(inputs.engine, inputs.settings.retention.batch_size):
        for rid, rtype, cid, rdate, captured, status, versions in batch:
            info = contracts.get(cid) if cid is not None else None
            held = rid in held_records or cid in held_contracts
            facts = RecordFacts(
                rid, rtype, _day(rdate), _day(captured), info.facts if info else None, held, status
            )
            if cid is not None:
                scan.files[cid].append(_OnFile(rtype, facts.record_date))
            decision = disposal_decision(facts, inputs.schedule, inputs.at)
            scan.decisions[decision.kind] += 1
            if decision.kind in _REPORTED:
                _apply_decision(scan, rid, rtype, info.reference if info else None, decision)
            if inputs.mirror_locks and status not in DISPOSED_STATUSES:
                target = LockTarget(rid, decision.retain_until.until, held, versions)
                if needs_mirroring(target, mirrors.get(rid)):
                    scan.lock_targets.append((target, mirrors.get(rid)))
        scan.records += len(batch)
        progress(len(batch))
    return scan


_REPORTED = frozenset({"expiring", "review_due", "dispose"})


def _apply_decision(
    scan: _Scan, rid: str, rtype: str, contract_ref: str | None, decision: Decision
) -> None:
    if decision.kind == "dispose":
        scan.candidates.append(_Candidate(rid, rtype, contract_ref, decision))
        return
    kind = FindingKind.EXPIRING if decision.kind == "expiring" else FindingKind.REVIEW_DUE
    scan.drafts.append(decision_finding(kind, rid, contract_ref, rtype, decision))


def _open_fixity_keys(engine: Engine) -> set[str]:
    prefix = f"{FindingKind.FIXITY_FAILURE.value}:"
    with session_scope(engine) as session:
        keys = session.exec(
            select(Finding.key).where(
                Finding.kind == FindingKind.FIXITY_FAILURE.value,
                col(Finding.resolved_at).is_(None),
            )
        )
        return {key.removeprefix(prefix) for key in keys}


def _fixity_rows(inputs: _Inputs, mode: str, recheck: set[str]) -> list[Any]:
    columns = (
        col(Version.record_id),
        col(Version.number),
        col(Version.storage_key),
        col(Version.sha256),
        col(Version.size),
        col(Record.contract_id),
    )
    base = (
        core_select(*columns)
        .join(Record, col(Record.id) == col(Version.record_id))
        .where(col(Record.status).not_in(DISPOSED_STATUSES))
    )
    with session_scope(inputs.engine) as session:
        if mode == "full":
            return list(session.execute(base.order_by(col(Version.id))).all())
        size = inputs.settings.retention.fixity_sample_size
        rows = list(session.execute(base.order_by(func.random()).limit(size)).all())
        seen = {row[2] for row in rows}
        wanted = [key for key in recheck if key not in seen]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows += session.execute(base.where(col(Version.storage_key).in_(chunk))).all()
        return rows


def _fixity(
    inputs: _Inputs, contracts: dict[int, _Contract], mode: str, report: RunReport
) -> tuple[list[FindingDraft], set[str]]:
    """Re-hash stored versions; drafts for missing or changed objects, and the keys examined."""
    if mode == "off":
        return [], set()
    drafts: list[FindingDraft] = []
    checked: set[str] = set()
    for record_id, number, key, sha256, size, cid in _fixity_rows(
        inputs, mode, _open_fixity_keys(inputs.engine)
    ):
        info = contracts.get(cid) if cid is not None else None
        try:
            problem = _check_object(inputs.store, key, sha256, size)
        except StorageError as exc:
            report.errors.append(f"fixity: cannot read {key}: {exc}")
            log.warning("fixity check could not read %s: %s", key, exc)
            continue
        checked.add(key)
        if problem is not None:
            text_, extra = problem
            drafts.append(
                fixity_finding(
                    record_id=record_id,
                    contract_ref=info.reference if info else None,
                    version=number,
                    key=key,
                    problem=text_,
                    **extra,
                )
            )
    report.fixity_checked, report.fixity_failures = len(checked), len(drafts)
    return drafts, checked


def _check_object(
    store: BlobStore, key: str, sha256: str, size: int
) -> tuple[str, dict[str, Any]] | None:
    """None if the object's bytes hash to ``sha256``; else the problem and its details."""
    digest, seen = hashlib.sha256(), 0
    try:
        for chunk in store.open(key):
            digest.update(chunk)
            seen += len(chunk)
    except ObjectNotFound:
        return "stored object is missing", {}
    actual = digest.hexdigest()
    if actual == sha256:
        return None
    details = {
        "expected_sha256": sha256,
        "actual_sha256": actual,
        "size": size,
        "actual_size": seen,
    }
    return "stored bytes differ from the recorded sha256", details


def _mirror_locks(
    inputs: _Inputs, targets: list[tuple[LockTarget, LockMirror | None]], report: RunReport
) -> list[tuple[LockTarget, LockMirror | None]]:
    """Apply each changed lock to the store; returns those applied."""
    if not targets:
        return []
    mode = inputs.settings.storage.retention_mode
    with session_scope(inputs.engine) as session:
        keys = record_keys(session, [target.record_id for target, _ in targets])
    applied = []
    for target, mirror in targets:
        lift = mirror is not None and mirror.legal_hold and not target.legal_hold
        try:
            apply_lock(inputs.store, keys[target.record_id], target, lift_hold=lift, mode=mode)
        except StorageError as exc:
            report.errors.append(f"object lock: record {target.record_id}: {exc}")
            log.warning("could not mirror the lock of record %s: %s", target.record_id, exc)
            continue
        applied.append((target, mirror))
    report.locks_mirrored = len(applied)
    return applied


def _serialise_runs(session: Session, engine: Engine) -> None:
    # SQLite's BEGIN IMMEDIATE already makes the write phase exclusive.
    if not is_sqlite(engine):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_RUN_LOCK})


def _write(
    inputs: _Inputs,
    scan: _Scan,
    fixity_drafts: list[FindingDraft],
    checked: set[str],
    mirrored: list[tuple[LockTarget, LockMirror | None]],
    actor: str,
    clock: Clock,
    report: RunReport,
) -> None:
    now = clock()
    with Session(inputs.engine, expire_on_commit=False) as session:
        _serialise_runs(session, inputs.engine)
        due = _propose(session, scan.candidates, actor, clock, report)
        outcome = reconcile(
            session,
            [*scan.drafts, *due, *fixity_drafts],
            now=now,
            examined=lambda kind, key: (
                kind != FindingKind.FIXITY_FAILURE.value or key.removeprefix(f"{kind}:") in checked
            ),
        )
        for target, _ in mirrored:
            remember(session, target, session.get(LockMirror, target.record_id), now)
        session.flush()
        report.findings_opened, report.findings_updated = outcome.opened, outcome.updated
        report.findings_resolved = outcome.resolved
        report.open_findings = _open_counts(session)
        if report.dry_run:
            session.rollback()
            return
        record_event(
            session,
            actor=actor,
            action=AuditAction.RETENTION_RUN,
            subject=RUN_SUBJECT,
            payload=GenericPayload(**_run_details(report)),
            clock=clock,
        )
        session.commit()


def _propose(
    session: Session, candidates: list[_Candidate], actor: str, clock: Clock, report: RunReport
) -> list[FindingDraft]:
    """Propose a disposition for each new candidate; ``disposition_due`` drafts for all open."""
    statuses = (DispositionStatus.PROPOSED.value, DispositionStatus.APPROVED.value)
    connection = session.connection()
    open_records = set(
        connection.execute(
            core_select(col(Disposition.record_id)).where(col(Disposition.status).in_(statuses))
        ).scalars()
    )
    rejected = {
        (row.record_id, row.retain_until)
        for row in connection.execute(
            core_select(col(Disposition.record_id), col(Disposition.retain_until)).where(
                col(Disposition.status) == DispositionStatus.REJECTED.value
            )
        )
    }
    new: list[_Candidate] = []
    drafts = []
    for candidate in candidates:
        if candidate.record_id not in open_records:
            if (candidate.record_id, candidate.decision.retain_until.until) in rejected:
                continue  # a person decided against it; ask again only if the date moves
            new.append(candidate)
        drafts.append(
            decision_finding(
                FindingKind.DISPOSITION_DUE,
                candidate.record_id,
                candidate.contract_ref,
                candidate.record_type,
                candidate.decision,
            )
        )
    report.proposed = len(new)
    if not report.dry_run:
        _insert_proposals(session, new, actor, clock)
    return drafts


def _insert_proposals(
    session: Session, candidates: list[_Candidate], actor: str, clock: Clock
) -> None:
    """Insert proposals in bulk, audited in batches of ``PROPOSALS_PER_ENTRY``.

    One entry per proposal would make a first run over a large archive write tens of
    thousands of entries; each batch entry lists every proposal it covers.
    """
    now = clock()
    for start in range(0, len(candidates), PROPOSALS_PER_ENTRY):
        batch = candidates[start : start + PROPOSALS_PER_ENTRY]
        rows = [_proposal_row(candidate, actor, now) for candidate in batch]
        session.connection().execute(insert(_DISPOSITIONS), rows)
        record_event(
            session,
            actor=actor,
            action=AuditAction.DISPOSITION_PROPOSE,
            subject=RUN_SUBJECT,
            payload=GenericPayload(
                proposals=[
                    {
                        "record": row["record_id"],
                        "action": row["action"],
                        "rule": row["rule"],
                        "retain_until": row["retain_until"].isoformat(),
                    }
                    for row in rows
                ]
            ),
            clock=clock,
        )


def _proposal_row(candidate: _Candidate, actor: str, now: datetime) -> dict[str, Any]:
    decision = candidate.decision
    return {
        "record_id": candidate.record_id,
        "action": decision.action or "destroy",
        "rule": candidate.record_type,
        "retain_until": decision.retain_until.until,
        "status": DispositionStatus.PROPOSED.value,
        "proposed_by": actor,
        "proposed_at": now,
        "proposal_reason": decision.reason[:1000],
    }


def _open_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Finding.kind, func.count())
        .where(col(Finding.resolved_at).is_(None))
        .group_by(col(Finding.kind))
    )
    return {kind: int(count) for kind, count in sorted(rows)}


def _run_details(report: RunReport) -> dict[str, Any]:
    return {
        "as_of": report.as_of.isoformat(),
        "records": report.records,
        "contracts": report.contracts,
        "decisions": report.decisions,
        "proposed": report.proposed,
        "findings": {
            "opened": report.findings_opened,
            "updated": report.findings_updated,
            "resolved": report.findings_resolved,
            "open": report.open_findings,
        },
        "fixity": {
            "mode": report.fixity_mode,
            "checked": report.fixity_checked,
            "failures": report.fixity_failures,
        },
        "locks_mirrored": report.locks_mirrored,
        "errors": len(report.errors),
    }


def last_run_at(engine: Engine) -> datetime | None:
    """When the last (non-dry) run was recorded in the audit log, if ever."""
    with session_scope(engine) as session:
        return session.exec(
            select(AuditEntry.at)
            .where(AuditEntry.action == AuditAction.RETENTION_RUN.value)
            .order_by(col(AuditEntry.idx).desc())
            .limit(1)
        ).first()
