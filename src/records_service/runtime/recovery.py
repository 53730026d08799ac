"""``records-service recover --from-store``: rebuild the catalogue from the blob store.

Runs the steps in order and writes the recovery report:

1. the audit log: entries lacking from the log are appended from the longest good
   export bundle given (:mod:`records_service.audit.restore`); entries the store's
   signed checkpoints prove but no bundle holds are lost, and that loss is
   acknowledged in the log (:mod:`records_service.audit.rollback`), so that
   ``audit verify`` reports it and checkpoints are signed again;
2. the store is read and checked (:mod:`records_service.records._store_scan`);
3. what the catalogue lacks is added (:mod:`records_service.records.recovery`);
4. the disposals and holds the store's notes record are applied
   (:mod:`records_service.retention.recovered`), each note in its own transaction
   with its own audit entry (``disposition.recover``, ``hold.recover``), so that a
   run stopped part-way leaves nothing applied unaudited;
5. the run is summed up in one ``catalogue.recover`` entry when it changed anything
   (with what the per-note entries do not say: records, versions, edits, contracts,
   placeholder accounts and the content of disposed records deleted again).

The report (:class:`RecoveryReport`) says what came back, what could not and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from records_service.audit.actions import AuditAction, RecoveryPayload, RollbackPayload
from records_service.audit.keys import trusted_keys
from records_service.audit.log import log_size, record_event
from records_service.audit.restore import LogRestore, restore_from_bundles
from records_service.audit.rollback import acknowledge_rollback, acknowledged, find_rollback
from records_service.audit.writer import build_checkpoint_store
from records_service.db import read_scope, session_scope
from records_service.records._store_scan import Problem, StoreScan, scan_store
from records_service.records.recovery import RecordsRecovered, recover_records
from records_service.retention.recovered import (
    AppliedBy,
    RetentionRecovered,
    apply_disposal_notes,
    apply_hold_notes,
)
from records_service.runtime.services import Services

REPORT_FORMAT = "records-service-recovery-report/1"
RECOVERY_ACTOR = "recovery"
# Kept only in the database: what no recovery from the store can bring back.
NOT_IN_THE_STORE = (
    "users: accounts, roles, passwords, API tokens and sign-in history live only in the "
    "database. Each user name found in the store that the database lacked has a placeholder "
    "account, disabled, with the staff role and no password or token: check who each person "
    "is, then 'users enable', 'users passwd', 'users token' and 'users roles'; leave those "
    "who left disabled",
    "audit entries that no export bundle holds: the store keeps only signed checkpoints, "
    "which prove how many entries there were and their root, not what they said",
    "holds placed before the store kept hold notes (place them again), disposal "
    "proposals and approvals not yet carried out, retention findings and runs: run "
    "'retention run' to find what is due",
    "records disposed of or transferred before the store kept disposal notes: their "
    "disposal deleted their content, sidecars and change notes, and their disposal "
    "records lived only in the database",
    "contracts created before the store kept contract notes that no record was filed "
    "under, and their changes made before then and after the latest capture or edit of "
    "a record filed under the contract",
    "extracted text and the search index: rebuilt by the worker from the content "
    "(every recovered record is queued)",
)


@dataclass
class Progress:
    """Callbacks for a progress display: records read and written, each of a total."""

    read: Callable[[int, int], None] | None = None
    written: Callable[[int, int], None] | None = None


@dataclass
class RecoveryReport:
    """What a recovery did, for ``--report`` (JSON) and the printed summary."""

    records: RecordsRecovered
    log: LogRestore
    retention: RetentionRecovered = field(default_factory=RetentionRecovered)
    lost: list[str] = field(default_factory=list)
    acknowledged_now: RollbackPayload | None = None
    first_layout_sidecars: int = 0
    content_bytes: int = 0
    log_size_after: int = 0

    def as_json(self) -> dict[str, Any]:
        """The report as a JSON object (see docs/recovery.md for its fields)."""
        records = asdict(self.records)
        records["records_updated"] = len(self.records.records_updated)
        return {
            "format": REPORT_FORMAT,
            "catalogue": records,
            "disposals": [asdict(d) for d in self.retention.disposals],
            "leftovers_deleted": [asdict(d) for d in self.retention.leftovers_deleted],
            "holds": {
                "added": self.retention.holds_added,
                "released": self.retention.holds_released,
            },
            "first_layout_sidecars": self.first_layout_sidecars,
            "content_bytes_verified": self.content_bytes,
            "audit": {
                "log_size_before": self.log.size_before,
                "log_size_after": self.log_size_after,
                "entries_restored_from_bundles": self.log.restored,
                "bundle_used": self.log.used,
                "bundles": [asdict(b) for b in self.log.bundles],
                "bundle_problems": self.log.problems,
                "lost": self.lost,
                "acknowledged_now": (
                    self.acknowledged_now.model_dump() if self.acknowledged_now else None
                ),
            },
            "not_recoverable": list(NOT_IN_THE_STORE),
        }

    def summary(self) -> list[str]:
        """The report in plain English, a line per subject."""
        return [
            *self._catalogue_lines(),
            *self._retention_lines(),
            *self._problem_lines(),
            *self._audit_lines(),
        ]

    def _retention_lines(self) -> list[str]:
        held = self.retention
        lines = [
            f"holds: {len(held.holds_added)} added, {len(held.holds_released)} released, "
            "from the store's hold notes"
        ]
        lines += [f"  hold added: {label}" for label in held.holds_added]
        lines += [f"  hold released: {label}" for label in held.holds_released]
        return lines + self._disposal_lines()

    def _disposal_lines(self) -> list[str]:
        disposals, lines = self.retention.disposals, []
        if disposals:
            lines += [
                f"disposals: {len(disposals)} recorded in the store's disposal notes applied:"
            ]
        lines += [
            f"  {d.record_id}: {'transferred' if d.action == 'transfer' else 'disposed of'} "
            f"on {d.executed_at} (disposition {d.disposition_id}, approved by "
            f"{d.approved_by}: {d.reason})"
            + ("; brought back as a disposed-of record" if d.added else "")
            + (
                f"; {d.objects_deleted} of its objects put back by a restore deleted again"
                if d.objects_deleted
                else ""
            )
            for d in disposals
        ]
        leftovers = self.retention.leftovers_deleted
        if leftovers:
            lines += [
                f"disposed of already, content put back by a restore deleted again: "
                f"{len(leftovers)} records:"
            ]
        lines += [f"  {d.record_id}: {d.objects_deleted} objects deleted" for d in leftovers]
        return lines

    def _catalogue_lines(self) -> list[str]:
        r = self.records
        held = r.records_found - r.records_added - len(r.records_updated)
        lines = [
            f"records: {r.records_found} found in the store: {r.records_added} added, "
            f"{len(r.records_updated)} brought up to date, {held} already complete",
            f"versions: {r.versions_found} found with content matching their sidecar, "
            f"{r.versions_added} added",
            f"edits: {r.changes_found} change notes found, {r.changes_added} added",
            f"contracts: {len(r.contracts_added)} added, {len(r.contracts_updated)} brought up "
            "to date",
            f"users: cannot be recovered; user names found in the store: "
            f"{', '.join(r.names_found) or 'none'}",
        ]
        if r.contracts_without_details:
            lines.append(
                "contracts known by reference only (their title is set to the reference; "
                f"fill in their details): {', '.join(r.contracts_without_details)}"
            )
        if r.placeholders:
            lines.append(
                "placeholder accounts (disabled, staff role, no password or token) made for "
                "names the database did not know: " + ", ".join(r.placeholders)
            )
        if self.first_layout_sidecars:
            lines.append(
                f"{self.first_layout_sidecars} sidecars are of the first layout: they hold no "
                "contract details, and edits made after their version are not in the store"
            )
        return lines

    def _problem_lines(self) -> list[str]:
        r = self.records
        lines = []
        if r.problems:
            lines.append(f"{len(r.problems)} stored objects could not be used:")
            lines += [f"  {p.key}: {p.problem}" for p in r.problems[:20]]
            if len(r.problems) > 20:
                lines.append("  (the rest are in the report)")
        if r.not_in_store:
            lines.append(
                f"{len(r.not_in_store)} records of the catalogue have nothing in the store "
                "(disposed of after the backup was taken, or lost): 'records-service check' "
                "names their missing objects"
            )
        return lines

    def _audit_lines(self) -> list[str]:
        log = self.log
        lines = [
            f"audit log: {log.size_before} entries before, {self.log_size_after} after; "
            f"{log.restored} restored from an export bundle"
            + (f" ({log.used})" if log.used else "")
        ]
        lines += [
            f"  bundle {b.path} not used: {'; '.join(b.problems)}" for b in log.bundles if not b.ok
        ]
        lines += [f"  {problem}" for problem in log.problems]
        lines += [f"audit entries LOST: {loss}" for loss in self.lost]
        if self.acknowledged_now is not None:
            lines.append(
                "the loss is now recorded in the log: 'audit verify' reports it as a warning, "
                "and checkpoints are signed again"
            )
        lines.append("not recoverable from the store:")
        lines += [f"  - {what}" for what in NOT_IN_THE_STORE]
        return lines

    def write(self, path: Path) -> None:
        """Write the JSON report to ``path``."""
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n")


def recover_from_store(
    services: Services, *, bundles: Sequence[Path] = (), progress: Progress | None = None
) -> RecoveryReport:
    """Rebuild what the catalogue lacks from the store; see the module's steps."""
    progress = progress or Progress()
    log = _restore_log(services, bundles)
    acknowledged_now = _acknowledge_loss(services)
    scan: StoreScan = scan_store(services.store, progress=progress.read)
    records = recover_records(
        services.engine, scan, clock=services.clock, progress=progress.written
    )
    retention = RetentionRecovered()
    by = AppliedBy(RECOVERY_ACTOR, services.clock)
    apply_disposal_notes(services.engine, services.store, scan.notes.disposals, retention, by)
    apply_hold_notes(services.engine, scan.notes.holds, retention, by)
    records.problems += [Problem(key, problem) for key, problem in retention.problems]
    if records.added_anything or log.restored or retention.changed_anything:
        _audit_run(services, records, log, retention)
    with read_scope(services.engine) as session:
        lost = list(acknowledged(session).losses)
        size_after = log_size(session)
    return RecoveryReport(
        records=records,
        log=log,
        retention=retention,
        lost=lost,
        acknowledged_now=acknowledged_now,
        first_layout_sidecars=scan.first_layout_sidecars,
        content_bytes=scan.content_bytes,
        log_size_after=size_after,
    )


def _restore_log(services: Services, bundles: Sequence[Path]) -> LogRestore:
    keys = trusted_keys(services.settings)
    return restore_from_bundles(services.engine, bundles, trusted_key=keys[0] if keys else None)


def _acknowledge_loss(services: Services) -> RollbackPayload | None:
    """Record in the log the entries the store's checkpoints prove and it lacks."""
    checkpoints = build_checkpoint_store(services.settings, services.store)
    found = find_rollback(services.engine, checkpoints)
    if found is None:
        return None
    return acknowledge_rollback(
        services.engine,
        checkpoints,
        verifier_keys=trusted_keys(services.settings),
        reason=(
            "recover --from-store: the database was lost or restored from an older copy; "
            "these entries are in no export bundle given to the recovery"
        ),
        actor=RECOVERY_ACTOR,
        clock=services.clock,
    )


def _audit_run(
    services: Services, records: RecordsRecovered, log: LogRestore, retention: RetentionRecovered
) -> None:
    payload = RecoveryPayload(
        records_added=records.records_added,
        records_updated=len(records.records_updated),
        versions_added=records.versions_added,
        changes_added=records.changes_added,
        contracts_added=records.contracts_added,
        contracts_updated=records.contracts_updated,
        placeholder_users=records.placeholders,
        problems=len(records.problems),
        audit_entries_restored=log.restored,
        disposals_applied=[d.record_id for d in retention.disposals],
        holds_added=retention.holds_added,
        holds_released=retention.holds_released,
        leftovers_deleted=[d.record_id for d in retention.leftovers_deleted],
    )
    with session_scope(services.engine) as session:
        record_event(
            session,
            actor=RECOVERY_ACTOR,
            action=AuditAction.CATALOGUE_RECOVER,
            subject="catalogue",
            payload=payload,
            clock=services.clock,
        )
