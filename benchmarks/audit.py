"""The audit benchmark: what the tamper-evident log costs a capture, how fast a log of
a million entries verifies, and how quickly proofs come back from it.

Run from the repository root::

    .venv/bin/python -m benchmarks.audit [--quick] [--entries N] [--json out.json]

Phases, on the embedded default (SQLite in WAL mode, local blobs) in a temp directory:

1. **Append overhead.** The capture pipeline called in-process, sequentially, in
   alternating rounds with the log on and off. "Off" replaces ``record_event`` in the
   capture module by a no-op for the duration of the round: a measuring device that
   exists only in this benchmark, never a mode of the service.
2. **A log of N entries** (default 1,000,000), generated straight into the database:
   canonical entries, their leaf and subtree hashes, and a signed checkpoint every
   ``--checkpoint-every`` entries (default 100, the service's default policy) in the
   database and as files in the store. Generation is not timed as part of anything.
3. **Verify throughput.** ``verify_log`` over the whole log, exactly what
   ``records-service audit verify`` runs, beside a bare loop of ``hashlib.sha256``
   over the same canonical entries held in memory, and a bare read of the rows.
4. **Proof latency.** Inclusion proofs of random entries at the full size, and
   consistency proofs between random checkpoints: through the service function with a
   fresh session per call (as a route does), then end to end over HTTP against a real
   server process (through ``benchmarks._harness``).

Targets (from the audit issue): full verify of 1M entries under 10 s, proof p95 under 5 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from benchmarks._harness import (
    LatencySummary,
    create_token,
    format_table,
    machine_info,
    running_server,
    write_json,
)
from records_service.audit._rows import ENTRY_ROWS_SQL
from records_service.audit.bundle import checkpoint_file_name
from records_service.audit.checkpoint import Checkpoint, sign_checkpoint
from records_service.audit.keys import Signer, ensure_signing_key, load_signer
from records_service.audit.log import canonical_bytes, format_time
from records_service.audit.merkle import RootAccumulator, node_hash
from records_service.audit.rollback import CHECKPOINT_PREFIX
from records_service.audit.service import consistency, inclusion
from records_service.audit.verify import verify_log, verify_processes
from records_service.auth.models import User
from records_service.auth.service import add_user
from records_service.db import session_scope
from records_service.records import capture as capture_module
from records_service.records.schemas import RecordMetadata
from records_service.runtime.services import Services
from records_service.settings import Settings
from records_service.storage import LocalBlobStore

SEED = 20260615
ORIGIN = "records-service"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
VERIFY_TARGET_S = 10.0
PROOF_P95_TARGET_MS = 5.0
ACTORS = ("sam", "sue", "rita", "rob", "aud", "ada")
DOCUMENT = b"Monitoring return, quarter 2: 412 calls answered, 37 referrals.\n" * 30


# --- phase 1: append overhead ------------------------------------------------------


@dataclass(frozen=True)
class AppendResult:
    captures_per_side: int
    log_on_per_s: float
    log_off_per_s: float
    overhead_pct: float
    record_event_ms: float
    bare_appends_per_s: float


# The name the capture module calls; swapped only inside this benchmark's rounds.
_PATCHED = "record_event"


def _no_record_event(*_args: object, **_kwargs: object) -> None:
    """Stands in for ``record_event`` during the benchmark's log-off rounds only."""


class _TimedRecordEvent:
    """Wraps the real ``record_event`` during log-on rounds to time the calls themselves.

    The capture's own pending rows are flushed first, outside the timer: ``record_event``
    would otherwise flush them and be charged for their inserts.
    """

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, session: Session, **kwargs: Any) -> Any:
        session.flush()
        started = time.perf_counter()
        try:
            return self.real(session, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def _capture_round(
    services: Services, actor: User, count: int, replacement: Callable[..., Any]
) -> float:
    ctx = services.capture_context()
    meta = RecordMetadata(
        title="Monitoring return Q2",
        record_type="monitoring_return",
        record_date=date(2026, 1, 5),
        tags=["monitoring"],
    )
    real = getattr(capture_module, _PATCHED)
    setattr(capture_module, _PATCHED, replacement)
    try:
        started = time.perf_counter()
        for _ in range(count):
            capture_module.capture_record(
                ctx, meta=meta, source=io.BytesIO(DOCUMENT), filename="return.txt", actor=actor
            )
        return time.perf_counter() - started
    finally:
        setattr(capture_module, _PATCHED, real)


def measure_appends(root: Path, captures: int, rounds: int = 10) -> AppendResult:
    settings = Settings(data_dir=root / "append")
    services = Services.start(settings)
    try:
        with session_scope(services.engine) as session:
            actor = add_user(session, username="sam", roles=["staff"], clock=services.clock)
        timed = _TimedRecordEvent(getattr(capture_module, _PATCHED))
        _capture_round(services, actor, 5, timed.real)  # warm caches and the schema
        per_round = max(1, captures // rounds)  # alternating rounds even out drift
        on = off = 0.0
        for _ in range(rounds):
            on += _capture_round(services, actor, per_round, timed)
            off += _capture_round(services, actor, per_round, _no_record_event)
        bare = _bare_appends(services, per_round * rounds)
    finally:
        services.close()
    total = per_round * rounds
    on_rate, off_rate = total / on, total / off
    inside_ms = timed.seconds / timed.calls * 1000
    return AppendResult(total, on_rate, off_rate, (off_rate / on_rate - 1) * 100, inside_ms, bare)


def _bare_appends(services: Services, count: int) -> float:
    """Entries per second of ``record_event`` alone, one transaction each."""
    from records_service.audit.actions import AuditAction, ReadPayload
    from records_service.audit.log import record_event

    started = time.perf_counter()
    for n in range(count):
        with session_scope(services.engine) as session:
            record_event(
                session,
                actor="sam",
                action=AuditAction.RECORD_READ,
                subject="record:bench",
                payload=ReadPayload(version=1, sha256=f"{n:064x}"),
                clock=services.clock,
            )
    return count / (time.perf_counter() - started)


# --- phase 2: a large log ------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedLog:
    settings: Settings
    entries: int
    checkpoints: int
    canonical: list[bytes]
    seconds: float
    database_mib: float


def _entry_fields(index: int, rng: random.Random) -> tuple[str, str, str, str, str]:
    at = format_time(START + timedelta(milliseconds=250 * index))
    actor = ACTORS[index % len(ACTORS)]
    record = f"{rng.getrandbits(128):032x}"
    details = json.dumps(
        {"sha256": f"{rng.getrandbits(256):064x}", "version": 1 + index % 3},
        sort_keys=True,
        separators=(",", ":"),
    )
    return at, actor, "record.read", f"record:{record}", details


def _stored_time(at_text: str) -> str:
    """The form SQLAlchemy stores a UTC timestamp in on SQLite."""
    return at_text[:10] + " " + at_text[11:-1]


def generate_log(root: Path, entries: int, every: int) -> GeneratedLog:
    """Write ``entries`` entries, their nodes and signed checkpoints straight into a database."""
    settings = Settings(data_dir=root / "log")
    Services.start(settings).close()  # creates and migrates the database
    ensure_signing_key(settings)
    signer = load_signer(settings)
    started = time.perf_counter()
    canonical: list[bytes] = []
    db = sqlite3.connect(settings.data_dir / "records.db", isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    checkpoints = _fill(db, settings, signer, entries, every, canonical)
    db.execute("UPDATE audit_head SET size = ?", (entries,))
    db.execute("COMMIT")
    db.close()
    size = (settings.data_dir / "records.db").stat().st_size / 2**20
    return GeneratedLog(
        settings, entries, checkpoints, canonical, time.perf_counter() - started, size
    )


def _kept_or_generated(args: argparse.Namespace, root: Path) -> GeneratedLog:
    """The log to measure, under ``root``: generated, or copied from ``--log-dir``.

    The measurements add entries (the users and tokens of the HTTP phase), so a kept
    log is measured on a copy and stays as generated.
    """
    if args.log_dir is None:
        return generate_log(root, args.entries, args.checkpoint_every)
    kept = args.log_dir / "log"
    generated = None
    if not (kept / "records.db").exists():
        generated = generate_log(args.log_dir, args.entries, args.checkpoint_every)
    shutil.copytree(kept, root / "log")
    log = reuse_log(root, args.entries)
    return log if generated is None else replace(log, seconds=generated.seconds)


def reuse_log(root: Path, entries: int) -> GeneratedLog:
    """The log an earlier `generate_log` left under ``root``, with its canonical entries."""
    settings = Settings(data_dir=root / "log")
    path = settings.data_dir / "records.db"
    db = sqlite3.connect(path)
    try:
        (size,) = db.execute("SELECT size FROM audit_head").fetchone()
        if size != entries:
            raise SystemExit(f"{path} holds {size} entries, not {entries}")
        (checkpoints,) = db.execute("SELECT count(*) FROM audit_checkpoints").fetchone()
        canonical = [
            canonical_bytes(
                index=index,
                at=at[:10] + "T" + at[11:] + "Z",
                actor=actor,
                action=action,
                subject=subject,
                details=details,
            )
            for index, at, actor, action, subject, details, _ in db.execute(
                ENTRY_ROWS_SQL.format(lo=0, hi=entries)
            )
        ]
    finally:
        db.close()
    return GeneratedLog(settings, entries, checkpoints, canonical, 0.0, path.stat().st_size / 2**20)


def _fill(
    db: sqlite3.Connection,
    settings: Settings,
    signer: Signer,
    entries: int,
    every: int,
    canonical: list[bytes],
) -> int:
    rng = random.Random(SEED)
    accumulator = RootAccumulator()
    stack: list[bytes] = []
    rows: list[tuple[object, ...]] = []
    nodes: list[tuple[int, int, bytes]] = []
    checkpoints = 0
    for index in range(entries):
        at, actor, action, subject, details = _entry_fields(index, rng)
        data = canonical_bytes(
            index=index, at=at, actor=actor, action=action, subject=subject, details=details
        )
        canonical.append(data)
        leaf = hashlib.sha256(b"\x00" + data).digest()
        rows.append((index, _stored_time(at), actor, action, subject, details))
        nodes.extend(_completed_nodes(index, leaf, stack))
        accumulator.append(leaf)
        if (index + 1) % every == 0 or index + 1 == entries:
            _checkpoint(db, settings, signer, index + 1, accumulator.root(), at)
            checkpoints += 1
        if len(rows) >= 50_000:
            _flush(db, rows, nodes)
    _flush(db, rows, nodes)
    return checkpoints


def _completed_nodes(
    index: int, leaf: bytes, stack: list[bytes]
) -> Iterator[tuple[int, int, bytes]]:
    """The (level, index, hash) nodes leaf ``index`` completes, as ``audit.log`` stores them."""
    yield 0, index, leaf
    current, level, carry = leaf, 0, index + 1
    while not carry & 1:
        current = node_hash(stack.pop(), current)
        level += 1
        carry >>= 1
        yield level, index >> level, current
    stack.append(current)


def _flush(db: sqlite3.Connection, rows: list[Any], nodes: list[Any]) -> None:
    db.executemany(
        "INSERT INTO audit_entries (idx, at, actor, action, subject, details) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.executemany("INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
    rows.clear()
    nodes.clear()


def _checkpoint(
    db: sqlite3.Connection, settings: Settings, signer: Signer, size: int, root: bytes, at: str
) -> None:
    when = datetime.fromisoformat(at.replace("Z", "+00:00"))
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root, when), signer.name, signer.private_key)
    key = CHECKPOINT_PREFIX + checkpoint_file_name(size)
    db.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note, storage_key, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (size, root, note, key, _stored_time(at)),
    )
    # Written directly (no fsync per file) to keep generation quick; the store reads it back.
    path = settings.blob_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(note, encoding="utf-8")
    path.chmod(0o444)


# --- phase 3: verify -----------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    checkpoints: int
    processes: int
    verify_s: float
    verify_cpu_s: float
    verify_per_s: float
    single_s: float
    single_cpu_s: float
    verify_without_store_s: float
    bare_sha256_s: float
    bare_sha256_cpu_s: float
    bare_sha256_per_s: float
    row_read_s: float
    row_read_cpu_s: float
    ratio_to_bare: float


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished child processes."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed_verify(
    log: GeneratedLog, services: Services, *, with_store: bool, processes: int
) -> tuple[float, float]:
    """Wall and CPU seconds (worker processes included) of one verification."""
    started, cpu = time.perf_counter(), _cpu_with_children()
    report = verify_log(
        services.engine,
        checkpoint_store=LocalBlobStore(log.settings.blob_root) if with_store else None,
        trusted_keys=[load_signer(log.settings).verifier_key],
        origin=ORIGIN,
        processes=processes,
    )
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_with_children() - cpu
    if not report.ok:
        raise SystemExit(f"the generated log does not verify: {report.problems[:3]}")
    return seconds, cpu_seconds


def measure_verify(log: GeneratedLog) -> VerifyResult:
    services = Services.start(log.settings)
    processes = verify_processes(log.settings)  # as `audit verify` runs it
    try:
        verify_s, verify_cpu = _timed_verify(log, services, with_store=True, processes=processes)
        single_s, single_cpu = _timed_verify(log, services, with_store=True, processes=1)
        without_store_s, _ = _timed_verify(log, services, with_store=False, processes=processes)
    finally:
        services.close()
    read_s, read_cpu = _bare_read(log.settings)
    bare_s, bare_cpu = _bare_sha256(log.canonical)
    return VerifyResult(
        entries=log.entries,
        checkpoints=log.checkpoints,
        processes=processes,
        verify_s=verify_s,
        verify_cpu_s=verify_cpu,
        verify_per_s=log.entries / verify_s,
        single_s=single_s,
        single_cpu_s=single_cpu,
        verify_without_store_s=without_store_s,
        bare_sha256_s=bare_s,
        bare_sha256_cpu_s=bare_cpu,
        bare_sha256_per_s=log.entries / bare_s,
        row_read_s=read_s,
        row_read_cpu_s=read_cpu,
        ratio_to_bare=verify_cpu / bare_cpu,
    )


def _bare_sha256(canonical: list[bytes]) -> tuple[float, float]:
    sha256 = hashlib.sha256
    started, cpu = time.perf_counter(), time.process_time()
    for data in canonical:
        sha256(b"\x00" + data).digest()
    return time.perf_counter() - started, time.process_time() - cpu


def _bare_read(settings: Settings) -> tuple[float, float]:
    """Wall and CPU seconds to read every row verify reads, doing nothing with them."""
    db = sqlite3.connect(settings.data_dir / "records.db")
    started, cpu = time.perf_counter(), time.process_time()
    cursor = db.execute(ENTRY_ROWS_SQL.format(lo=0, hi=2**62))
    while cursor.fetchmany(10_000):
        pass
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return seconds, cpu_seconds


# --- phase 4: proofs -----------------------------------------------------------------


@dataclass(frozen=True)
class ProofResult:
    samples: int
    inclusion_service: LatencySummary
    consistency_service: LatencySummary
    inclusion_http: LatencySummary
    baseline_http: LatencySummary


def _timed(samples: int, call: Callable[[], object]) -> LatencySummary:
    seconds = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return LatencySummary.of(seconds)


def measure_proofs(log: GeneratedLog, samples: int, every: int) -> ProofResult:
    rng = random.Random(SEED + 1)
    services = Services.start(log.settings)
    try:

        def one_inclusion() -> None:
            with session_scope(services.engine) as session:
                inclusion(session, index=rng.randrange(log.entries), tree_size=None)

        def one_consistency() -> None:
            first = every * rng.randrange(1, log.entries // every)
            with session_scope(services.engine) as session:
                consistency(session, first=first, second=log.entries)

        _timed(50, one_inclusion)  # warm the page cache
        inclusion_s = _timed(samples, one_inclusion)
        consistency_s = _timed(samples, one_consistency)
    finally:
        services.close()
    http, baseline = _http_proofs(log, samples, rng)
    return ProofResult(samples, inclusion_s, consistency_s, http, baseline)


def _http_proofs(
    log: GeneratedLog, samples: int, rng: random.Random
) -> tuple[LatencySummary, LatencySummary]:
    """Proofs over HTTP, and beside them the cheapest authenticated read of the same
    server (the latest checkpoint: one small query), which shows what any request costs."""
    data_dir = log.settings.data_dir
    token = create_token(data_dir, "auditor", "auditor")
    with running_server(data_dir) as server, httpx.Client(base_url=server.base_url) as client:
        headers = server.bearer(token)

        def one() -> None:
            index = rng.randrange(log.entries)
            response = client.get(f"/api/audit/entries/{index}/proof", headers=headers)
            response.raise_for_status()

        def baseline() -> None:
            client.get("/api/audit/checkpoint", headers=headers).raise_for_status()

        _timed(50, one)
        return _timed(samples, one), _timed(samples, baseline)


# --- report --------------------------------------------------------------------------


def report(
    appends: AppendResult, log: GeneratedLog, verify: VerifyResult, proofs: ProofResult
) -> str:
    lines = [
        "Append overhead (capture pipeline in-process, sequential, small text file):",
        format_table(
            ["", "captures/s"],
            [
                ["log on", appends.log_on_per_s],
                ["log off (record_event replaced by a no-op)", appends.log_off_per_s],
                ["overhead", f"{appends.overhead_pct:.1f} %"],
                ["time inside record_event per capture, ms", appends.record_event_ms],
                ["record_event alone, entries/s", appends.bare_appends_per_s],
            ],
        ),
        "",
        f"Log: {log.entries:,} entries, {log.checkpoints:,} checkpoints, "
        f"database {log.database_mib:,.0f} MiB "
        + (f"(generated in {log.seconds:.1f} s)" if log.seconds else "(reused)"),
        format_table(
            ["", "wall s", "CPU s", "entries/s"],
            [
                [
                    f"audit verify (verify_log, {verify.processes} processes)",
                    verify.verify_s,
                    verify.verify_cpu_s,
                    verify.verify_per_s,
                ],
                [
                    "  the same in one process",
                    verify.single_s,
                    verify.single_cpu_s,
                    verify.entries / verify.single_s,
                ],
                [
                    "  the same without reading the store copies",
                    verify.verify_without_store_s,
                    None,
                    verify.entries / verify.verify_without_store_s,
                ],
                [
                    "bare sha256 loop, same entries",
                    verify.bare_sha256_s,
                    verify.bare_sha256_cpu_s,
                    verify.bare_sha256_per_s,
                ],
                [
                    "bare read of the rows",
                    verify.row_read_s,
                    verify.row_read_cpu_s,
                    verify.entries / verify.row_read_s,
                ],
            ],
        ),
        f"verify / bare sha256 (CPU, all processes): {verify.ratio_to_bare:.1f}x; "
        f"target {VERIFY_TARGET_S:.0f} s: "
        + ("met" if verify.verify_s < VERIFY_TARGET_S else "MISSED"),
        "",
        f"Proof latency at {log.entries:,} entries ({proofs.samples} samples each, ms):",
        format_table(
            ["", "p50", "p95", "max"],
            [
                [name, s.p50_ms, s.p95_ms, s.max_ms]
                for name, s in (
                    ("inclusion, service call", proofs.inclusion_service),
                    ("consistency, service call", proofs.consistency_service),
                    ("inclusion, HTTP end to end", proofs.inclusion_http),
                    ("baseline: GET /api/audit/checkpoint", proofs.baseline_http),
                )
            ],
        ),
        f"target p95 < {PROOF_P95_TARGET_MS:.0f} ms: service call "
        + ("met" if proofs.inclusion_service.p95_ms < PROOF_P95_TARGET_MS else "MISSED")
        + ", HTTP "
        + ("met" if proofs.inclusion_http.p95_ms < PROOF_P95_TARGET_MS else "missed"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000, help="Log size to verify.")
    parser.add_argument("--checkpoint-every", type=int, default=100, help="Entries per checkpoint.")
    parser.add_argument("--captures", type=int, default=400, help="Captures per side (on/off).")
    parser.add_argument("--proofs", type=int, default=1000, help="Samples per proof kind.")
    parser.add_argument("--quick", action="store_true", help="100k entries, fewer samples.")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument(
        "--log-dir",
        type=Path,
        help="Keep the generated log here, or reuse the one an earlier run left (same "
        "--entries): generating a million entries takes minutes.",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.captures, args.proofs = 100_000, 100, 200
    print("machine:", ", ".join(f"{k}={v}" for k, v in machine_info().items()), flush=True)
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        root = Path(tmp)
        appends = measure_appends(root, args.captures)
        log = _kept_or_generated(args, root)
        verify = measure_verify(log)
        proofs = measure_proofs(log, args.proofs, args.checkpoint_every)
    print(report(appends, log, verify, proofs))
    print(f"load_1m_at_end={os.getloadavg()[0]:.2f}")
    if args.json:
        figures = {
            "machine": machine_info(),
            "appends": asdict(appends),
            "log": {
                "entries": log.entries,
                "checkpoints": log.checkpoints,
                "generate_s": log.seconds,
                "database_mib": log.database_mib,
            },
            "verify": asdict(verify),
            "proofs": asdict(proofs),
        }
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
