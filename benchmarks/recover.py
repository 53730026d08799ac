"""The recovery benchmark: ``recover --from-store`` over a store of N records, on the
embedded default (SQLite and the local store), against bare reads of the same store.

Run from the repository root::

    .venv/bin/python -m benchmarks.recover [--records N] [--json F] [--tmp-dir D]

Set-up writes a synthetic store straight to disk, as the service lays it out
(seeded, so every run has the same data): each record a first version of about
2 KiB with its sidecar (format 2, with its contract's details), one record in ten
a second version, one in five a change note; 20 records to a contract, 20 user
names. Set-up is not timed. Then, in the same process, on a fresh database:

* **baseline, sidecars**: list ``records/`` and parse every sidecar and change
  note as JSON: the least any recovery must do;
* **baseline, sidecars and content**: the same, and read and SHA-256 every
  content object: the least a recovery that checks the content must do;
* **recovery**: ``recover_from_store`` as the command runs it (reading and
  checking, then writing the catalogue), with its two phases timed apart;
* **second run**: the same again, which finds everything present and adds nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._harness import format_table, machine_info, source_revision, write_json
from records_service.records.sidecars import change_note_key, sidecar_body
from records_service.runtime.recovery import Progress, RecoveryReport, recover_from_store
from records_service.runtime.services import Services
from records_service.settings import Settings
from records_service.storage import BlobStore

SEED = 20260615
NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)
RECORDS_PER_CONTRACT = 20
USERS = 20


@dataclass(frozen=True)
class Timed:
    """Wall and CPU seconds of one phase."""

    wall_s: float
    cpu_s: float


def timed(work: Callable[[], Any]) -> tuple[Any, Timed]:
    """Run ``work`` and measure it."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, Timed(time.perf_counter() - wall, time.process_time() - cpu)


# --- the synthetic store --------------------------------------------------------------


def _put(root: Path, key: str, body: bytes) -> None:
    """Write an object as the local store keeps it (set-up only, without its fsyncs)."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    path.chmod(0o444)


def _contract(number: int) -> dict[str, Any]:
    return {
        "reference": f"OPCC-B-{number:05d}",
        "title": f"Benchmark service {number}",
        "provider": "Provider Ltd",
        "funding_stream": None,
        "awarded_value_pence": 1_000_000 + number,
        "start_date": "2020-04-01",
        "end_date": "2027-03-31",
        "closed_on": None,
        "status": "active",
        "is_deed": False,
        "owner": None,
        "created_at": NOW,
        "updated_at": NOW,
        "created_by": "user00",
        "updated_by": "user00",
    }


def _version(root: Path, record_id: str, key: str, number: int, meta: dict[str, Any]) -> None:
    content = f"{meta['title']} version {number}\n".encode() * 60
    sidecar = {
        "format": 2,
        "record_id": record_id,
        "version": number,
        **meta,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "media_type": "text/plain",
        "filename": f"v{number}.txt",
        "captured_at": NOW - timedelta(days=30 - number),
    }
    _put(root, key, content)
    _put(root, key + ".json", sidecar_body(sidecar).encode())


def _note(root: Path, record_id: str, meta: dict[str, Any]) -> None:
    note = {
        "format": 2,
        "kind": "change",
        "record_id": record_id,
        "version": 1,
        "sequence": 0,
        "changed_at": NOW - timedelta(days=20),
        "changed_by": meta["captured_by"],
        "reason": "title corrected",
        "changes": [["title", "draft", meta["title"]]],
        **{k: v for k, v in meta.items() if k != "captured_by"},
    }
    _put(root, change_note_key(record_id, 0), sidecar_body(note).encode())


def populate(root: Path, records: int) -> None:
    """Write ``records`` records' objects under ``root`` (the local store's root)."""
    rng = random.Random(SEED)
    for n in range(records):
        record_id = uuid.UUID(int=rng.getrandbits(128)).hex
        number = n // RECORDS_PER_CONTRACT
        meta = {
            "title": f"Record {n}",
            "record_type": "correspondence",
            "contract": f"OPCC-B-{number:05d}",
            "contract_details": _contract(number),
            "tags": ["benchmark", f"t{n % 7}"],
            "classification": "OFFICIAL",
            "originator": None,
            "record_date": "2024-01-15",
            "captured_by": f"user{n % USERS:02d}",
        }
        _version(root, record_id, f"records/{record_id}/v1", 1, meta)
        if n % 10 == 0:
            key = f"records/{record_id}/v2-{rng.getrandbits(48):012x}"
            _version(root, record_id, key, 2, meta)
        if n % 5 == 0:
            _note(root, record_id, meta)


# --- the baselines ----------------------------------------------------------------------


def read_sidecars(store: BlobStore, *, hash_content: bool) -> int:
    """List the store and parse every sidecar and note; optionally hash every content."""
    objects = 0
    for key in store.list("records/"):
        objects += 1
        if key.endswith(".json"):
            json.loads(b"".join(store.open(key)))
        elif hash_content:
            digest = hashlib.sha256()
            for chunk in store.open(key):
                digest.update(chunk)
    return objects


# --- the run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """Everything one benchmark run measured."""

    records: int
    objects: int
    setup_s: float
    sidecars: Timed
    with_content: Timed
    reading_s: float
    recovery: Timed
    second: Timed
    report: RecoveryReport
    machine: dict[str, str]
    load_1m_at_end: float


def _recover(services: Services, marks: dict[str, float]) -> RecoveryReport:
    def read(done: int, total: int) -> None:
        if done == total:
            marks["read"] = time.perf_counter()

    return recover_from_store(services, progress=Progress(read=read))


def run(records: int, tmp_dir: Path | None) -> Results:
    """Build the store, then time the baselines and the recovery."""
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        _, setup = timed(lambda: populate(settings.blob_root, records))
        services = Services.start(settings)
        try:
            objects, sidecars = timed(lambda: read_sidecars(services.store, hash_content=False))
            _, with_content = timed(lambda: read_sidecars(services.store, hash_content=True))
            marks: dict[str, float] = {}
            started = time.perf_counter()
            report, recovery = timed(lambda: _recover(services, marks))
            _, second = timed(lambda: _recover(services, {}))
        finally:
            services.close()
    return Results(
        records=records,
        objects=objects,
        setup_s=setup.wall_s,
        sidecars=sidecars,
        with_content=with_content,
        reading_s=marks.get("read", started) - started,
        recovery=recovery,
        second=second,
        report=report,
        machine=machine_info(),
        load_1m_at_end=os.getloadavg()[0],
    )


# --- output ---------------------------------------------------------------------------


def report(results: Results) -> str:
    """The figures as text."""
    base = results.with_content.wall_s
    rows = [
        _row("baseline: list, parse sidecars", results.sidecars, base),
        _row("baseline: list, parse sidecars, hash content", results.with_content, base),
        _row("recovery (empty database)", results.recovery, base),
        _row("second run (adds nothing)", results.second, base),
    ]
    found = results.report.records
    reading = results.reading_s
    return "\n".join(
        [
            f"recover --from-store over {results.records:,} records ({results.objects:,} "
            f"objects; set-up {results.setup_s:.1f} s, not timed)",
            "",
            format_table(("phase", "wall s", "CPU s", "vs baseline with content"), rows),
            "",
            f"recovery phases: reading and checking {reading:.2f} s, writing "
            f"{results.recovery.wall_s - reading:.2f} s",
            f"added: {found.records_added:,} records, {found.versions_added:,} versions, "
            f"{found.changes_added:,} edits, {len(found.contracts_added):,} contracts, "
            f"{len(found.placeholders)} placeholder accounts; problems {len(found.problems)}",
            f"rate: {results.records / results.recovery.wall_s:,.0f} records per second",
            "machine: " + ", ".join(f"{k} {v}" for k, v in results.machine.items()),
            f"load_1m_at_end {results.load_1m_at_end:.2f}; source {source_revision()}",
        ]
    )


def _row(name: str, measured: Timed, base: float) -> tuple[object, ...]:
    return (name, measured.wall_s, measured.cpu_s, f"{measured.wall_s / base:.1f}x")


def to_json(results: Results) -> dict[str, Any]:
    """The figures as JSON-ready data."""
    return {
        "records": results.records,
        "objects": results.objects,
        "setup_s": results.setup_s,
        "baseline_sidecars": vars(results.sidecars),
        "baseline_with_content": vars(results.with_content),
        "recovery": {**vars(results.recovery), "reading_s": results.reading_s},
        "second_run": vars(results.second),
        "added": {
            "records": results.report.records.records_added,
            "versions": results.report.records.versions_added,
            "changes": results.report.records.changes_added,
            "contracts": len(results.report.records.contracts_added),
            "problems": len(results.report.records.problems),
        },
        "machine": {**results.machine, "load_1m_at_end": f"{results.load_1m_at_end:.2f}"},
        "source": source_revision(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="Where to build the store.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    results = run(args.records, args.tmp_dir)
    print(report(results))
    if args.json:
        write_json(args.json, to_json(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
