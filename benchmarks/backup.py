"""The backup benchmark: how long ``records-service backup`` and ``restore`` (with each of
its checks) take on an embedded installation of N records, against a plain copy of the
same files.

Run from the repository root::

    .venv/bin/python -m benchmarks.backup [--quick] [--records N] [--kib K] [--json out.json]

Set-up (not timed) builds, in a temp directory, an installation as N captures leave it:
an audit log of N entries with a signed checkpoint every 100 (``benchmarks.audit``'s
generator), N records with one version each, whose content (K KiB of seeded random
bytes, default 4) and JSON sidecar are files of the local blob store, hashed as the
catalogue records them. Files are written without fsync to keep set-up quick.

Timed, one after the other, in this process:

* **baseline**: ``shutil.copytree`` of the data directory (database, blobs, keys)
  and one ``sync``, the plain durable copy a backup must be compared with (set-up's
  own writes are synced before it, untimed);
* **backup, first**: :func:`take_backup` into an empty directory (every object copied,
  fsynced and read back);
* **backup, again**: the same directory a second time with nothing new (the nightly
  incremental cost when nothing changed);
* **restore**: :func:`restore_backup` into an empty installation (the backup checked
  against its manifest, then the database and every object put back, fsynced);
* **check**, **fixity** and **audit verify**: the three checks ``restore`` runs after.

Ratios are to the baseline. No numeric target is set; the figures say how long each
step of a recovery takes (docs/recovery.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks._harness import format_table, machine_info, source_revision, write_json
from benchmarks.audit import generate_log
from records_service.backup.checks import check_audit, check_fixity, check_store
from records_service.backup.restore import restore_backup
from records_service.backup.take import take_backup
from records_service.runtime.services import Services
from records_service.settings import Settings

SEED = 20261207
NOW = "2026-06-15 09:30:00.000000"
T = TypeVar("T")


@dataclass
class Results:
    """Seconds per phase, with what was measured."""

    records: int
    kib: int
    data_mib: float
    seconds: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)


def _timed(results: Results, phase: str, call: Callable[[], T]) -> T:
    started = time.perf_counter()
    value = call()
    results.seconds[phase] = time.perf_counter() - started
    return value


# --- set-up -------------------------------------------------------------------------


def build(root: Path, records: int, kib: int) -> Settings:
    """An installation of ``records`` captures under ``root``; see the module docstring."""
    settings = generate_log(root, records, 100).settings
    rng = random.Random(SEED)
    db = sqlite3.connect(settings.data_dir / "records.db", isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO users (id, username, display_name, roles, disabled, created_at) "
        "VALUES (1, 'bench', '', 'admin', 0, ?)",
        (NOW,),
    )
    rows = [_record(settings, rng, number, kib) for number in range(records)]
    db.executemany(
        "INSERT INTO records (id, title, record_type, classification, record_date, status, "
        "current_version, captured_at, captured_by_id, updated_at) "
        "VALUES (?, ?, 'correspondence', 'OFFICIAL', '2026-01-05', 'active', 1, ?, 1, ?)",
        [(rid, f"Record {n}", NOW, NOW) for n, (rid, _sha, _size) in enumerate(rows)],
    )
    db.executemany(
        "INSERT INTO versions (record_id, number, sha256, size, media_type, original_filename, "
        "storage_key, text_status, captured_at, captured_by_id) "
        "VALUES (?, 1, ?, ?, 'application/octet-stream', 'record.bin', ?, 'extracted', ?, 1)",
        [(rid, sha, size, f"records/{rid}/v1", NOW) for rid, sha, size in rows],
    )
    db.execute("COMMIT")
    db.close()
    return settings


def _record(settings: Settings, rng: random.Random, number: int, kib: int) -> tuple[str, str, int]:
    record_id = f"{number:032x}"
    content = rng.randbytes(kib * 1024)
    sha = hashlib.sha256(content).hexdigest()
    folder = settings.blob_root / "records" / record_id
    folder.mkdir(parents=True)
    sidecar = json.dumps({"record_id": record_id, "version": 1, "sha256": sha}, indent=2)
    for name, data in (("v1", content), ("v1.json", sidecar.encode())):
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o444)
    return record_id, sha, len(content)


def _size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# --- measurement --------------------------------------------------------------------


def _plain_copy(source: Path, target: Path) -> None:
    """The baseline: copy the tree, then make it durable, as a backup does."""
    shutil.copytree(source, target)
    os.sync()


def run(records: int, kib: int, tmp_dir: Path | None) -> Results:
    """Build the installation, then time every phase."""
    with tempfile.TemporaryDirectory(prefix="bench-backup-", dir=tmp_dir) as temp:
        root = Path(temp)
        settings = build(root, records, kib)
        results = Results(records, kib, _size_mib(settings.data_dir))
        os.sync()  # the set-up's writes reach the disk before anything is timed
        _timed(results, "baseline: copytree", lambda: _plain_copy(settings.data_dir, root / "cp"))
        dest = root / "backup"
        dest.mkdir()
        first = _timed(results, "backup, first", lambda: take_backup(settings, dest))
        again = _timed(results, "backup, again", lambda: take_backup(settings, dest))
        results.outcomes["backup, first"] = f"{len(first.blobs.copied)} objects copied"
        results.outcomes["backup, again"] = (
            f"{len(again.blobs.copied)} copied, {again.blobs.kept} already there"
        )
        target = settings.model_copy(update={"data_dir": root / "restored", "database_url": None})
        _timed(results, "restore", lambda: restore_backup(target, dest))
        _checks(target, results)
    return results


def _checks(target: Settings, results: Results) -> None:
    services = Services.start(target)
    try:
        for phase, check in (
            ("check", lambda: check_store(services.engine, services.store)),
            (
                "fixity (full)",
                lambda: check_fixity(
                    services.engine, services.store, services.schedule, target, services.clock
                ),
            ),
            ("audit verify", lambda: check_audit(services.engine, services.store, target)),
        ):
            outcome = _timed(results, phase, check)
            results.outcomes[phase] = ("OK: " if outcome.ok else "FAILED: ") + outcome.summary
    finally:
        services.close()


def report(results: Results) -> str:
    """The figures as a table, with the machine and the source."""
    base = results.seconds["baseline: copytree"]
    rows = [
        (phase, seconds, seconds / base, results.outcomes.get(phase, ""))
        for phase, seconds in results.seconds.items()
    ]
    lines = [
        f"backup benchmark: {results.records:,} records of {results.kib} KiB "
        f"({results.data_mib:,.0f} MiB of data), source {source_revision()}",
        ", ".join(f"{k}: {v}" for k, v in machine_info().items()),
        "",
        format_table(("phase", "seconds", "x baseline", "outcome"), rows),
    ]
    return "\n".join(lines)


def to_json(results: Results) -> dict[str, Any]:
    """The figures for ``--json``."""
    return {
        "records": results.records,
        "kib": results.kib,
        "data_mib": round(results.data_mib, 1),
        "seconds": {k: round(v, 3) for k, v in results.seconds.items()},
        "outcomes": results.outcomes,
        "machine": machine_info(),
        "source": source_revision(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=2_000, help="Records (default 2,000).")
    parser.add_argument("--kib", type=int, default=4, help="Content size per record in KiB.")
    parser.add_argument("--quick", action="store_true", help="Smoke run: 200 records.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="Where to build the data.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report; exit 1 if a check after the restore failed."""
    args = parse_args(argv)
    results = run(200 if args.quick else args.records, args.kib, args.tmp_dir)
    print(report(results))
    if args.json:
        write_json(args.json, to_json(results))
    checks = [o for k, o in results.outcomes.items() if not k.startswith("backup")]
    return 0 if all(o.startswith("OK") for o in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
