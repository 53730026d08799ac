"""The retention job: evaluate every record and contract as of a day and write what it finds.

Owns the run's phases and its report. Each phase may assume the ones before it:

1. **Scan** (short read transactions, in batches): every contract's facts, the active
   holds, then the records in id order. Each record gets its pure decision
   (:func:`~records_service.retention.policy.disposal_decision`); each contract its
   completeness gaps (:func:`~records_service.retention.completeness.evaluate_contract`),
   its money reconciled (:func:`~records_service.finance.reconcile.money_issues`), and the
   transparency register derived (:func:`~records_service.transparency.register.build_register`).
   One record or contract that cannot be evaluated (a date retention cannot count
   from, a row that cannot be read, any other error) becomes a ``job_error``
   finding naming it, and the scan goes on. Each item is computed in full before
   anything of it is kept, so a failing item leaves nothing half-done behind.
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
from typing import Any, NamedTuple, TypedDict, Unpack

from pydantic import BaseModel
from sqlalchemy import Engine, String, func, insert, text, type_coerce
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col, select

from records_service.audit.actions import AuditAction, GenericPayload
from records_service.audit.log import record_event
from records_service.audit.models import AuditEntry
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.db import LONG_WRITE_OPTION, is_sqlite, read_scope, session_scope
from records_service.finance.reconcile import load_money_facts, money_issues
from records_service.records.models import DISPOSED_STATUSES, Record, Version
from records_service.retention import replica_checks
from records_service.retention.completeness import evaluate_contract
from records_service.retention.findings import (
    FindingDraft,
    decision_finding,
    fixity_finding,
    gap_finding,
    job_error_finding,
    money_finding,
    reconcile,
    register_finding,
)
from records_service.retention.known_gaps import explaining, open_gaps
from records_service.retention.models import (
    SYSTEM_ACTOR,
    Disposition,
    DispositionStatus,
    Finding,
    FindingKind,
    Hold,
    KnownGap,
    LockMirror,
)
from records_service.retention.object_lock import (
    LockTarget,
    apply_lock,
    needs_mirroring,
    record_keys,
    remember,
    with_change_notes,
)
from records_service.retention.policy import (
    ContractFacts,
    Decision,
    RecordFacts,
    contract_problems,
    disposal_decision,
    record_problems,
)
from records_service.retention.schedule import RetentionSchedule
from records_service.settings import Settings
from records_service.storage import BlobStore, ObjectNotFound, StorageError
from records_service.transparency.register import build_register
from records_service.transparency.service import register_issues

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
    replica: bool = False
    replica_checked: int = 0
    replica_failures: int = 0
    replica_overdue: int = 0
    locks_mirrored: int = 0
    job_errors: int = 0
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
    unreadable: set[int]  # ids of contracts whose row could not be read
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
    replica: BlobStore | None = None


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
    replica: BlobStore | None = None,
) -> RunReport:
    """Run the retention job as of ``at`` (default: the clock's today) and report.

    ``actor`` is the user who started the run, or ``system`` when it is scheduled;
    it is recorded as the proposer of any disposition. ``fixity`` overrides the
    configured mode (``off``, ``sample``, ``full``). With a ``replica``, the fixity
    check re-hashes its copies too, and copies overdue in the replica queue are
    reported (:mod:`~records_service.retention.replica_checks`).
    """
    started, tick = clock(), time.perf_counter()
    inputs = _Inputs(
        engine,
        store,
        schedule,
        settings,
        at or started.date(),
        store.supports_object_lock and not dry_run,
        replica,
    )
    mode = fixity or settings.retention.fixity
    report = RunReport(
        as_of=inputs.at,
        dry_run=dry_run,
        actor=actor,
        started_at=started,
        fixity_mode=mode,
        replica=replica is not None,
    )
    timer = _PhaseTimer(report)
    with cyclic_gc_paused():
        contracts, unreadable = _load_contracts(engine)
        scan = _Scan(set(unreadable))
        scan.drafts.extend(unreadable.values())
        _scan(inputs, contracts, scan, progress or (lambda _n: None))
        timer.lap("scan")
        _completeness(inputs, contracts, scan)
        timer.lap("completeness")
        _money(inputs, contracts, scan)
        timer.lap("money")
        _register(inputs, scan)
        timer.lap("register")
    fixity_drafts, checked = _fixity(inputs, contracts, mode, report)
    fixity_drafts += _overdue_copies(inputs, started, report)
    timer.lap("fixity")
    mirrored = _mirror_locks(inputs, scan.lock_targets, report)
    timer.lap("object_lock")
    report.records, report.contracts = scan.records, len(contracts) + len(unreadable)
    report.job_errors = sum(1 for draft in scan.drafts if draft.kind == FindingKind.JOB_ERROR)
    report.decisions = dict(sorted(scan.decisions.items()))
    with cyclic_gc_paused():
        _write(inputs, scan, fixity_drafts, checked, mirrored, actor, clock, report)
    timer.lap("write")
    report.seconds = round(time.perf_counter() - tick, 3)
    return report


class RunOptions(TypedDict, total=False):
    """The keywords of :func:`run_retention` that say how to run (see it for defaults)."""

    at: date | None
    dry_run: bool
    fixity: str | None
    progress: Progress | None
    replica: BlobStore | None


def run_as_system(
    engine: Engine,
    store: BlobStore,
    schedule: RetentionSchedule,
    settings: Settings,
    clock: Clock,
    **options: Unpack[RunOptions],
) -> RunReport:
    """:func:`run_retention` started by no user but the service itself (``system``):
    the timer, the ``retention run`` command and the checks after a restore."""
    return run_retention(
        engine=engine,
        store=store,
        schedule=schedule,
        settings=settings,
        actor=SYSTEM_ACTOR,
        clock=clock,
        **options,
    )


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a CPU-bound phase of a few seconds.

    A retention run allocates about a million objects and keeps a good share of them
    (the files of every contract, the drafts), so the collector keeps re-scanning the
    whole heap: measured at 30 to 45% of the scan. The Panel's report, reading a
    large period's rows, is paused the same way. Reference counting still frees
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
    """Drafts for every contract's completeness gaps (or the error that stopped its check),
    each telling a known gap from an unexplained one."""
    with read_scope(inputs.engine) as session:
        known = open_gaps(session)
    for cid, info in contracts.items():
        on_file = scan.files.get(cid, [])
        scan.drafts.extend(_contract_drafts(inputs, info, on_file, known.get(cid, [])))


def _contract_drafts(
    inputs: _Inputs, info: _Contract, on_file: Sequence[_OnFile], known: Sequence[KnownGap]
) -> list[FindingDraft]:
    """One contract's gap findings, or a single ``job_error`` if it cannot be checked."""
    problems = contract_problems(info.facts, inputs.schedule)
    if problems:
        return [_job_error(info.reference, None, "; ".join(problems))]
    try:
        gaps = evaluate_contract(info.facts, on_file, inputs.schedule.completeness, inputs.at)
        return [gap_finding(gap, explaining(gap, known)) for gap in gaps]
    except Exception as exc:  # one contract must not stop the run for every other
        log.exception("retention: cannot check the file of contract %s", info.reference)
        return [_job_error(info.reference, None, _plain(exc))]


def _money(inputs: _Inputs, contracts: dict[int, _Contract], scan: _Scan) -> None:
    """Reconciliation drafts for every readable contract's money (one read transaction)."""
    thresholds = inputs.schedule.reconciliation
    with read_scope(inputs.engine) as session:
        facts = load_money_facts(session, inputs.at, contracts)
    for cid, money in facts.items():
        reference = contracts[cid].reference
        try:
            issues = money_issues(money, thresholds, inputs.at)
        except Exception as exc:  # one contract must not stop the run for every other
            log.exception("retention: cannot reconcile the money of contract %s", reference)
            scan.drafts.append(_job_error(reference, None, _plain(exc)))
            continue
        scan.drafts.extend(money_finding(issue, reference) for issue in issues)


def _register(inputs: _Inputs, scan: _Scan) -> None:
    """The transparency register's drafts: overdue publications and missing copies."""
    rules = inputs.schedule.transparency
    with read_scope(inputs.engine) as session:
        items = build_register(session, rules, inputs.at)
    scan.drafts.extend(register_finding(issue) for issue in register_issues(items, rules))


def _job_error(contract_ref: str | None, record_id: str | None, problem: str) -> FindingDraft:
    return job_error_finding(contract_ref=contract_ref, record_id=record_id, problem=problem)


def _plain(exc: Exception) -> str:
    """An exception as the sentence a finding quotes."""
    return str(exc) or type(exc).__name__


# The dates come through untyped and are parsed one row at a time, so one unreadable
# row (text that is no date, on SQLite) is that contract's error, not the whole run's.
_CONTRACT_COLUMNS = (
    col(Contract.id),
    col(Contract.reference),
    col(Contract.status),
    type_coerce(col(Contract.start_date), String),
    type_coerce(col(Contract.end_date), String),
    type_coerce(col(Contract.closed_on), String),
    col(Contract.is_deed),
    col(Contract.awarded_value_pence),
)


def _load_contracts(engine: Engine) -> tuple[dict[int, _Contract], dict[int, FindingDraft]]:
    """Every readable contract by id, and a ``job_error`` draft for each unreadable one."""
    contracts: dict[int, _Contract] = {}
    unreadable: dict[int, FindingDraft] = {}
    with session_scope(engine) as session:
        rows = session.execute(core_select(*_CONTRACT_COLUMNS)).all()
    for cid, reference, status, start, end, closed, is_deed, value in rows:
        try:
            start_date, end_date, closed_on = (_optional_day(day) for day in (start, end, closed))
        except (TypeError, ValueError) as exc:
            unreadable[cid] = _job_error(reference, None, f"a date cannot be read: {exc}")
            continue
        facts = ContractFacts(
            reference=reference,
            status=status,
            start_date=start_date,
            end_date=end_date,
            closed_on=closed_on,
            is_deed=bool(is_deed),
            awarded_value_pence=value,
        )
        contracts[cid] = _Contract(facts, reference)
    return contracts, unreadable


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


def _optional_day(value: Any) -> date | None:
    return None if value is None else _day(value)


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


@dataclass(frozen=True)
class _Known:
    """What the scan looks each record's context up in."""

    contracts: dict[int, _Contract]
    held_records: set[str]
    held_contracts: set[int]
    mirrors: dict[str, LockMirror]


def _scan(
    inputs: _Inputs, contracts: dict[int, _Contract], scan: _Scan, progress: Progress
) -> None:
    held_records, held_contracts = _load_holds(inputs.engine)
    mirrors = _load_mirrors(inputs.engine) if inputs.mirror_locks else {}
    known = _Known(contracts, held_records, held_contracts, mirrors)
    for batch in _record_batches(inputs.engine, inputs.settings.retention.batch_size):
        for row in batch:
            try:
                _scan_record(inputs, known, scan, row)
            except Exception as exc:  # one record must not stop the run for every other
                log.exception("retention: cannot evaluate record %s", row[0])
                info = known.contracts.get(row[2])
                reference = info.reference if info else None
                scan.drafts.append(_job_error(reference, row[0], _plain(exc)))
                scan.decisions["error"] += 1
        scan.records += len(batch)
        progress(len(batch))


def _scan_record(inputs: _Inputs, known: _Known, scan: _Scan, row: Any) -> None:
    """Evaluate one record; nothing of it reaches ``scan`` until all of it is computed."""
    rid, rtype, cid, rdate, captured, status, versions = row
    if cid is not None and cid in scan.unreadable:
        scan.decisions["error"] += 1  # kept, unevaluated: its contract's job_error says why
        return
    info = known.contracts.get(cid) if cid is not None else None
    reference = info.reference if info else None
    held = rid in known.held_records or cid in known.held_contracts
    facts = RecordFacts(
        rid, rtype, _day(rdate), _day(captured), info.facts if info else None, held, status
    )
    problems = record_problems(facts, inputs.schedule)
    decision = disposal_decision(facts, inputs.schedule, inputs.at)
    outcome = _decision_outcome(rid, rtype, reference, decision)
    lock = _lock_change(inputs, known, rid, status, decision, held, versions)
    if problems:
        scan.drafts.append(_job_error(reference, rid, "; ".join(problems)))
    if cid is not None:
        scan.files[cid].append(_OnFile(rtype, facts.record_date))
    scan.decisions[decision.kind] += 1
    if isinstance(outcome, _Candidate):
        scan.candidates.append(outcome)
    elif outcome is not None:
        scan.drafts.append(outcome)
    if lock is not None:
        scan.lock_targets.append(lock)


_REPORTED = frozenset({"expiring", "review_due", "dispose"})


def _decision_outcome(
    rid: str, rtype: str, contract_ref: str | None, decision: Decision
) -> _Candidate | FindingDraft | None:
    """A disposal candidate, a finding draft, or nothing, for one record's decision."""
    if decision.kind not in _REPORTED:
        return None
    if decision.kind == "dispose":
        return _Candidate(rid, rtype, contract_ref, decision)
    kind = FindingKind.EXPIRING if decision.kind == "expiring" else FindingKind.REVIEW_DUE
    return decision_finding(kind, rid, contract_ref, rtype, decision)


def _lock_change(
    inputs: _Inputs,
    known: _Known,
    rid: str,
    status: str,
    decision: Decision,
    held: bool,
    versions: int,
) -> tuple[LockTarget, LockMirror | None] | None:
    """The lock to mirror onto the record's objects, if it changed since last mirrored."""
    if not inputs.mirror_locks or status in DISPOSED_STATUSES:
        return None
    target = LockTarget(rid, decision.retain_until.until, held, versions)
    mirror = known.mirrors.get(rid)
    return (target, mirror) if needs_mirroring(target, mirror) else None


_RECHECKED = (FindingKind.FIXITY_FAILURE.value, FindingKind.MISSING_REPLICA.value)


def _open_fixity_keys(engine: Engine) -> set[str]:
    """Storage keys with an open ``fixity_failure`` or (copy) ``missing_replica`` finding."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(Finding.kind, Finding.key).where(
                col(Finding.kind).in_(_RECHECKED), col(Finding.resolved_at).is_(None)
            )
        )
        keys = {key.removeprefix(f"{kind}:") for kind, key in rows}
    return {key for key in keys if not key.startswith("record:")}


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


@dataclass
class _FixityPass:
    """What one fixity pass found: drafts, and the keys examined in each store."""

    drafts: list[FindingDraft] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    replica_checked: set[str] = field(default_factory=set)
    replica_drafts: int = 0


def _fixity(
    inputs: _Inputs, contracts: dict[int, _Contract], mode: str, report: RunReport
) -> tuple[list[FindingDraft], _FixityPass]:
    """Re-hash stored versions (and their replica copies); drafts for missing or changed
    objects, and the keys examined."""
    found = _FixityPass()
    if mode == "off":
        return [], found
    queued = replica_checks.queued_records(inputs.engine) if inputs.replica else {}
    for record_id, number, key, sha256, size, cid in _fixity_rows(
        inputs, mode, _open_fixity_keys(inputs.engine)
    ):
        info = contracts.get(cid) if cid is not None else None
        where = {"record_id": record_id, "contract_ref": info.reference if info else None}
        _check_primary(inputs, found, report, where, (number, key, sha256, size))
        if inputs.replica is not None and record_id not in queued:
            _check_replica(inputs.replica, found, report, where, (number, key, sha256, size))
    report.fixity_checked = len(found.checked)
    report.fixity_failures = len(found.drafts) - found.replica_drafts
    report.replica_checked, report.replica_failures = (
        len(found.replica_checked),
        found.replica_drafts,
    )
    return found.drafts, found


_Row = tuple[int, str, str, int]  # version number, storage key, sha256, size


def _check_primary(
    inputs: _Inputs, found: _FixityPass, report: RunReport, where: dict[str, Any], row: _Row
) -> None:
    number, key, sha256, size = row
    try:
        problem = _check_object(inputs.store, key, sha256, size)
    except StorageError as exc:
        report.errors.append(f"fixity: cannot read {key}: {exc}")
        log.warning("fixity check could not read %s: %s", key, exc)
        return
    found.checked.add(key)
    if problem is not None:
        text_, extra = problem
        found.drafts.append(
            fixity_finding(**where, version=number, key=key, problem=text_, **extra)
        )


def _check_replica(
    replica: BlobStore, found: _FixityPass, report: RunReport, where: dict[str, Any], row: _Row
) -> None:
    number, key, sha256, size = row
    try:
        problem = _check_object(replica, key, sha256, size)
    except StorageError as exc:
        report.errors.append(f"fixity: cannot read the replica's {key}: {exc}")
        log.warning("fixity check could not read the replica's %s: %s", key, exc)
        return
    found.replica_checked.add(key)
    if problem is not None:
        text_, extra = problem
        found.drafts.append(
            replica_checks.copy_finding(**where, version=number, key=key, problem=text_, **extra)
        )
        found.replica_drafts += 1


def _overdue_copies(inputs: _Inputs, now: datetime, report: RunReport) -> list[FindingDraft]:
    """``missing_replica`` drafts for records waiting too long in the replica queue."""
    if inputs.replica is None:
        return []
    drafts = replica_checks.overdue_drafts(
        replica_checks.queued_records(inputs.engine),
        now=now,
        overdue_minutes=inputs.settings.replica.overdue_minutes,
    )
    report.replica_overdue = len(drafts)
    return drafts


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
            found = with_change_notes(inputs.store, {target.record_id: keys[target.record_id]})
            apply_lock(inputs.store, found[target.record_id], target, lift_hold=lift, mode=mode)
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
    checked: _FixityPass,
    mirrored: list[tuple[LockTarget, LockMirror | None]],
    actor: str,
    clock: Clock,
    report: RunReport,
) -> None:
    now = clock()
    with Session(inputs.engine, expire_on_commit=False) as session:
        # Every finding and proposal of the run lands together: on a large archive this
        # transaction outlasts a request's bound (3.3 s at 100,000 records; see
        # docs/security.md), so it is exempt from it.
        session.connection(execution_options={LONG_WRITE_OPTION: True})
        _serialise_runs(session, inputs.engine)
        due = _propose(session, scan.candidates, actor, clock, report)
        outcome = reconcile(
            session,
            [*scan.drafts, *due, *fixity_drafts],
            now=now,
            examined=lambda kind, key: _examined(inputs, checked, kind, key),
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


def _examined(inputs: _Inputs, checked: _FixityPass, kind: str, key: str) -> bool:
    """Whether this run looked at the cause of an open finding (else it stays open)."""
    if kind == FindingKind.FIXITY_FAILURE.value:
        return key.removeprefix(f"{kind}:") in checked.checked
    if kind == FindingKind.MISSING_REPLICA.value:
        has_replica = inputs.replica is not None
        return replica_checks.examined(
            key, has_replica=has_replica, checked=checked.replica_checked
        )
    return True


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
        "replica": {
            "checked": report.replica_checked,
            "failures": report.replica_failures,
            "overdue": report.replica_overdue,
        },
        "locks_mirrored": report.locks_mirrored,
        "job_errors": report.job_errors,
        "errors": len(report.errors),
    }


def last_run_at(engine: Engine) -> datetime | None:
    """When the last (non-dry) run was recorded in the audit log, if ever."""
    with read_scope(engine) as session:
        return last_run_in(session)


def last_run_in(session: Session) -> datetime | None:
    """:func:`last_run_at`, read in an open session (a page's)."""
    return session.exec(
        select(AuditEntry.at)
        .where(AuditEntry.action == AuditAction.RETENTION_RUN.value)
        .order_by(col(AuditEntry.idx).desc())
        .limit(1)
    ).first()
