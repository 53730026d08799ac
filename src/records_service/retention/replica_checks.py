"""What the retention job checks of the replica: copies overdue and copies not good.

Both are ``missing_replica`` findings (the replica does not hold a good copy):

* ``missing_replica:record:<id>``: the record's objects have waited in the replica
  queue longer than ``replica.overdue_minutes`` (the replica cannot be reached, or
  the copy keeps failing; the worker's log says why). Worked out from the queue on
  every run, so it resolves on the first run after the copy.
* ``missing_replica:<storage key>``: the fixity check found the replica's copy of a
  version missing or not matching its recorded SHA-256. A version whose record
  still waits in the queue is not checked there (its copy is not due yet). Like a
  ``fixity_failure``, it is re-examined on every run and resolves only on a run
  that examined it.

Without a replica nothing is checked and open ``missing_replica`` findings resolve.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from records_service.db import read_scope
from records_service.records.replica import waiting_since
from records_service.retention.findings import FindingDraft
from records_service.retention.models import FindingKind

KIND = FindingKind.MISSING_REPLICA
OVERDUE_PREFIX = f"{KIND.value}:record:"


def queued_records(engine: Engine) -> dict[str, datetime]:
    """``record id -> when it was first queued`` for every record waiting for the replica."""
    with read_scope(engine) as session:
        return waiting_since(session)


def overdue_drafts(
    queued: dict[str, datetime], *, now: datetime, overdue_minutes: float
) -> list[FindingDraft]:
    """A finding for each record that has waited for the replica beyond the threshold."""
    limit = timedelta(minutes=overdue_minutes)
    drafts = []
    for record_id, since in sorted(queued.items()):
        waited = now - since
        if waited <= limit:
            continue
        minutes = int(waited.total_seconds() // 60)
        drafts.append(
            FindingDraft(
                kind=KIND,
                key=f"{OVERDUE_PREFIX}{record_id}",
                subject=f"record:{record_id}",
                summary=(
                    f"record {record_id}: not copied to the replica {minutes} minutes after "
                    f"it was queued (threshold {overdue_minutes:g} minutes)"
                ),
                details={"queued_at": since.isoformat(), "minutes_waiting": minutes},
                record_id=record_id,
            )
        )
    return drafts


def copy_finding(
    *,
    record_id: str,
    contract_ref: str | None,
    version: int,
    key: str,
    problem: str,
    **extra: Any,
) -> FindingDraft:
    """The replica's copy of one version is missing or its bytes changed."""
    return FindingDraft(
        kind=KIND,
        key=f"{KIND.value}:{key}",
        subject=f"record:{record_id}",
        summary=f"record {record_id} version {version} ({key}): replica copy: {problem}",
        details={"storage_key": key, "version": version, "problem": problem, **extra},
        contract_ref=contract_ref,
        record_id=record_id,
    )


def examined(key: str, *, has_replica: bool, checked: set[str]) -> bool:
    """Whether this run examined the cause of the open ``missing_replica`` finding ``key``."""
    if not has_replica or key.startswith(OVERDUE_PREFIX):
        return True
    return key.removeprefix(f"{KIND.value}:") in checked
