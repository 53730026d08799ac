"""The retention benchmark: a full retention run over 100,000 records and 5,000 contracts on
the embedded default (SQLite), against a bare SQL scan of the same tables.

Run from the repository root::

    .venv/bin/python -m benchmarks.retention [--quick] [--records N] [--contracts N] [--json F]

Set-up bulk-inserts synthetic rows straight into a fresh, migrated SQLite database
(seeded, so every run has the same data): contracts in every status, with files
that are complete, missing records, late with monitoring returns, past retention or
near its end; one version row per record; a few holds. Set-up is not timed.

Then, in the same process:

* **baseline**: a bare ``sqlite3`` scan of the same tables (records, contracts,
  holds), fetching every row the job reads, with no decisions;
* **first run**: the job as the scheduled server would run it, on a database that
  has never been evaluated (every finding and proposal is new);
* **second run**: the same job again at the same moment (the steady state: nothing
  changes).

The fixity check is **off** in the timed runs: it re-hashes stored objects, so its
cost is storage bandwidth, not the job's; the blobs here are not even written.
Object-lock mirroring is off too (the local store has none). The target, from the
retention issue, is a full run in under 10 seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from benchmarks._harness import format_table, machine_info, source_revision, write_json
from records_service.auth.models import User
from records_service.contracts.models import Contract
from records_service.db import make_engine
from records_service.migrations import upgrade
from records_service.records.models import Record, Version
from records_service.retention.job import RunReport, run_retention
from records_service.retention.models import SYSTEM_ACTOR, Hold
from records_service.retention.schedule import load_schedule
from records_service.settings import RetentionSettings, Settings
from records_service.storage import LocalBlobStore

SEED = 20260615
AS_OF = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)
TARGET_SECONDS = 10.0
HELD_CONTRACTS = 50

# Record types on a contract's file, most common first (a file has 20 records).
FILE_TYPES = (
    "needs_assessment",
    "specification",
    "invitation_to_tender",
    "tender_submission",
    "tender_evaluation",
    "decision_record",
    "contract",
    "contract_variation",
    "correspondence",
    "correspondence",
    "invoice",
    "invoice",
    "invoice",
    "contract_review",
    "publication_record",
    "closure_report",
)


@dataclass(frozen=True)
class Workload:
    """How much synthetic data to create."""

    records: int
    contracts: int


# --- synthetic data -----------------------------------------------------------------


def _contract_row(rng: random.Random, number: int) -> dict[str, Any]:
    status = rng.choices(
        ("closed", "terminated", "active", "awarded", "planned"), (40, 5, 40, 10, 5)
    )[0]
    if status in ("closed", "terminated"):
        end = date(2012, 1, 1) + timedelta(days=rng.randrange(14 * 365))
    else:
        end = date(2026, 7, 1) + timedelta(days=rng.randrange(4 * 365))
    start = end - timedelta(days=rng.randrange(365, 5 * 365))
    closed = end + timedelta(days=rng.randrange(60)) if status in ("closed", "terminated") else None
    return {
        "id": number,
        "reference": f"OPCC-B-{number:05d}",
        "title": f"Benchmark service {number}",
        "awarded_value_pence": rng.randrange(100_000, 50_000_000),
        "start_date": start,
        "end_date": end,
        "closed_on": closed,
        "status": status,
        "is_deed": rng.random() < 0.05,
        "created_at": NOW,
        "created_by_id": 1,
        "updated_at": NOW,
        "updated_by_id": 1,
    }


def _record_type(rng: random.Random, index: int, contract: dict[str, Any]) -> str:
    # Active files get their quarterly returns; a file misses a record now and then.
    if contract["status"] == "active" and index % 4 == 3:
        return "monitoring_return"
    record_type = FILE_TYPES[index % len(FILE_TYPES)]
    if rng.random() < 0.08:
        return "correspondence"  # the expected record never arrived
    return record_type


def _record_rows(
    rng: random.Random, number: int, contract: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    record_id = f"{number:032x}"
    index = number % 20
    start, end = contract["start_date"], contract["end_date"]
    record_date = min(start + timedelta(days=index * max(1, (end - start).days // 20)), AS_OF)
    record = {
        "id": record_id,
        "title": f"Record {number}",
        "record_type": _record_type(rng, index, contract),
        "contract_id": contract["id"],
        "classification": "OFFICIAL",
        "record_date": record_date,
        "status": "active",
        "current_version": 1,
        "captured_at": NOW - timedelta(days=rng.randrange(3000)),
        "captured_by_id": 1,
        "updated_at": NOW,
    }
    version = {
        "record_id": record_id,
        "number": 1,
        "sha256": f"{number:064x}",
        "size": 1000 + number % 5000,
        "media_type": "application/pdf",
        "original_filename": f"record-{number}.pdf",
        "storage_key": f"records/{record_id}/v1",
        "text_status": "extracted",
        "captured_at": record["captured_at"],
        "captured_by_id": 1,
    }
    return record, version


def populate(engine: Engine, workload: Workload) -> None:
    """Bulk-insert the synthetic contracts, records, versions and holds."""
    rng = random.Random(SEED)
    contracts = [_contract_row(rng, n) for n in range(1, workload.contracts + 1)]
    per_contract = workload.records // workload.contracts
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "id": 1,
                    "username": "bench",
                    "display_name": "",
                    "roles": "admin",
                    "disabled": False,
                    "created_at": NOW,
                }
            ],
        )
        conn.execute(insert(Contract), contracts)
        for offset in range(0, workload.records, 10_000):
            rows = [
                _record_rows(rng, n, contracts[n // per_contract % len(contracts)])
                for n in range(offset, min(offset + 10_000, workload.records))
            ]
            conn.execute(insert(Record), [record for record, _ in rows])
            conn.execute(insert(Version), [version for _, version in rows])
        held = rng.sample(contracts, HELD_CONTRACTS)
        conn.execute(
            insert(Hold),
            [
                {
                    "scope": "contract",
                    "contract_id": c["id"],
                    "reference": f"FOI-{c['id']}",
                    "reason": "benchmark hold",
                    "placed_by": "bench",
                    "placed_at": NOW,
                }
                for c in held
            ],
        )


# --- measurements -------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """Wall-clock and CPU seconds of one phase (the CPU figure shrugs off other load)."""

    wall_s: float
    cpu_s: float


def bare_scan(database: Path) -> tuple[Timed, int]:
    """Time to fetch every row the job reads with plain ``sqlite3``, and the row count."""
    started, cpu = time.perf_counter(), time.process_time()
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT id, record_type, contract_id, record_date, captured_at, status, "
            "current_version FROM records ORDER BY id"
        ).fetchall()
        rows += conn.execute(
            "SELECT id, reference, status, start_date, end_date, closed_on, is_deed, "
            "awarded_value_pence FROM contracts"
        ).fetchall()
        rows += conn.execute(
            "SELECT record_id, contract_id FROM holds WHERE released_at IS NULL"
        ).fetchall()
    return Timed(time.perf_counter() - started, time.process_time() - cpu), len(rows)


def timed_run(engine: Engine, store: LocalBlobStore, settings: Settings) -> tuple[RunReport, Timed]:
    """One full retention run as of ``AS_OF`` with the fixity check off."""
    started, cpu = time.perf_counter(), time.process_time()
    report = run_retention(
        engine=engine,
        store=store,
        schedule=load_schedule(None),
        settings=settings,
        actor=SYSTEM_ACTOR,
        clock=lambda: NOW,
        at=AS_OF,
        fixity="off",
    )
    return report, Timed(time.perf_counter() - started, time.process_time() - cpu)


@dataclass(frozen=True)
class Results:
    """Everything measured in one benchmark run."""

    workload: Workload
    setup_s: float
    baseline: Timed
    baseline_rows: int
    first: RunReport
    first_time: Timed
    second: RunReport
    second_time: Timed
    machine: dict[str, str]
    load_1m_at_end: float


def run(workload: Workload, tmp_dir: Path | None) -> Results:
    """Build the database, then time the baseline and two runs."""
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="retention-bench-", dir=tmp_dir) as tmp:
        root = Path(tmp)
        database = root / "records.db"
        settings = Settings(
            data_dir=root,
            database_url=f"sqlite:///{database}",
            retention=RetentionSettings(fixity="off"),
        )
        engine = make_engine(settings.resolved_database_url)
        started = time.perf_counter()
        upgrade(engine)
        populate(engine, workload)
        setup = time.perf_counter() - started
        baseline, rows = bare_scan(database)
        store = LocalBlobStore(root / "blobs")
        first, first_time = timed_run(engine, store, settings)
        second, second_time = timed_run(engine, store, settings)
        engine.dispose()
    return Results(
        workload,
        setup,
        baseline,
        rows,
        first,
        first_time,
        second,
        second_time,
        machine,
        os.getloadavg()[0],
    )


# --- output ---------------------------------------------------------------------------


def report(results: Results) -> str:
    """The figures as text."""
    base = results.baseline
    first, second = results.first_time, results.second_time
    rows = [
        ("bare SQL scan (baseline)", base.wall_s, base.cpu_s, "-", "1.0x"),
        _row("first run (all new)", first, results.first.proposed, base),
        _row("second run (steady state)", second, results.second.proposed, base),
    ]
    headers = ("phase", "wall s", "CPU s", "proposed", "wall vs baseline")
    slowest = max(first.wall_s, second.wall_s)
    verdict = "met" if slowest < TARGET_SECONDS else "MISSED"
    return "\n".join(
        [
            f"retention run over {results.first.records:,} records and "
            f"{results.first.contracts:,} contracts (fixity off; set-up {results.setup_s:.1f} s)",
            "",
            format_table(headers, rows),
            "",
            f"phases, first run: {results.first.phase_seconds}",
            f"phases, second run: {results.second.phase_seconds}",
            f"first run: {results.first.findings_opened:,} findings opened; open by kind "
            f"{results.first.open_findings}",
            f"decisions: {results.first.decisions}",
            f"second run: opened {results.second.findings_opened}, updated "
            f"{results.second.findings_updated}, resolved {results.second.findings_resolved}",
            "",
            f"target: a full run under {TARGET_SECONDS:g} s wall: {verdict} ({slowest:.2f} s)",
            "machine: " + ", ".join(f"{k} {v}" for k, v in results.machine.items()),
            f"load_1m_at_end {results.load_1m_at_end:.2f}; source {source_revision()}",
        ]
    )


def _row(name: str, timed: Timed, proposed: int, base: Timed) -> tuple[object, ...]:
    return (name, timed.wall_s, timed.cpu_s, proposed, f"{timed.wall_s / base.wall_s:.1f}x")


def to_json(results: Results) -> dict[str, Any]:
    """The figures as JSON-ready data."""
    return {
        "workload": {"records": results.workload.records, "contracts": results.workload.contracts},
        "setup_s": results.setup_s,
        "baseline": vars(results.baseline),
        "baseline_rows": results.baseline_rows,
        "first_run": {**vars(results.first_time), "report": results.first.model_dump(mode="json")},
        "second_run": {
            **vars(results.second_time),
            "report": results.second.model_dump(mode="json"),
        },
        "target_s": TARGET_SECONDS,
        "machine": {**results.machine, "load_1m_at_end": f"{results.load_1m_at_end:.2f}"},
        "source": source_revision(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--contracts", type=int, default=5_000)
    parser.add_argument(
        "--quick", action="store_true", help="Smoke run: 10,000 records, 500 contracts."
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="Where to build the database.")
    parser.add_argument("--check", action="store_true", help="Exit 1 if the target is missed.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report; the exit code reflects ``--check``."""
    args = parse_args(argv)
    workload = Workload(10_000, 500) if args.quick else Workload(args.records, args.contracts)
    results = run(workload, args.tmp_dir)
    print(report(results))
    if args.json:
        write_json(args.json, to_json(results))
    slowest = max(results.first_time.wall_s, results.second_time.wall_s)
    return 1 if args.check and slowest >= TARGET_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
