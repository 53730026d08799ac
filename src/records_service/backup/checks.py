"""The checks after a restore, each reported in plain words: store against catalogue, a
full fixity pass, and the audit log's verification.

They are the same checks as ``records-service check``, ``records-service retention
run --fixity full`` and ``records-service audit verify``; the fixity pass runs the
retention job as a dry run, so it re-hashes every stored version and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from records_service.audit.keys import trusted_keys
from records_service.audit.verify import verify_log, verify_processes
from records_service.audit.writer import build_checkpoint_store
from records_service.clock import Clock
from records_service.records.orphans import find_orphans
from records_service.retention import RetentionSchedule
from records_service.retention.job import run_as_system
from records_service.settings import Settings
from records_service.storage import BlobStore

SHOWN = 10  # details listed per check; the rest are counted


@dataclass
class CheckResult:
    """One check: its name, whether it passed, a one-line summary and the details."""

    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


def check_store(engine: Engine, store: BlobStore) -> CheckResult:
    """Every catalogued version has its content, and every stored object its row."""
    report = find_orphans(engine, store)
    if report.ok:
        return CheckResult("store and catalogue", True, "every version's content is in the store")
    details = [f"missing from the store: {key}" for key in report.missing_objects[:SHOWN]]
    details += [
        f"in the store without a catalogue row: {key}" for key in report.orphan_objects[:SHOWN]
    ]
    summary = (
        f"{len(report.missing_objects)} version(s) or sidecar(s) missing from the store, "
        f"{len(report.orphan_objects)} stored object(s) without a catalogue row"
    )
    if report.orphan_objects:
        summary += " (objects captured after the backup come back with recover --from-store)"
    return CheckResult("store and catalogue", False, summary, details)


def check_fixity(
    engine: Engine, store: BlobStore, schedule: RetentionSchedule, settings: Settings, clock: Clock
) -> CheckResult:
    """Re-hash every stored version against the SHA-256 recorded at capture."""
    report = run_as_system(engine, store, schedule, settings, clock, dry_run=True, fixity="full")
    errors = [error for error in report.errors if error.startswith("fixity")]
    if report.fixity_failures == 0 and not errors:
        summary = f"all {report.fixity_checked} stored version(s) match their recorded SHA-256"
        return CheckResult("fixity", True, summary)
    summary = (
        f"{report.fixity_failures} of {report.fixity_checked} stored version(s) are missing or "
        f"differ from their recorded SHA-256; {len(errors)} could not be read"
    )
    return CheckResult("fixity", False, summary, errors[:SHOWN])


def check_audit(engine: Engine, store: BlobStore, settings: Settings) -> CheckResult:
    """Verify the audit log against every signed checkpoint, the write-once copies included."""
    report = verify_log(
        engine,
        checkpoint_store=build_checkpoint_store(settings, store),
        trusted_keys=trusted_keys(settings),
        origin=settings.audit.origin,
        processes=verify_processes(settings),
    )
    details = [f"warning: {w}" for w in report.warnings] + report.problems[:SHOWN]
    if report.ok:
        summary = (
            f"{report.entries_checked} entries and {report.checkpoints_checked} signed "
            "checkpoint(s) verified"
        )
        return CheckResult("audit log", True, summary, details)
    summary = f"{len(report.problems)} problem(s) in {report.entries_checked} entries"
    if report.first_bad_index is not None:
        summary += f"; the first bad entry is {report.first_bad_index}"
    return CheckResult("audit log", False, summary, details)


def check_restored(
    engine: Engine, store: BlobStore, schedule: RetentionSchedule, settings: Settings, clock: Clock
) -> list[CheckResult]:
    """All three checks, in order."""
    return [
        check_store(engine, store),
        check_fixity(engine, store, schedule, settings, clock),
        check_audit(engine, store, settings),
    ]
