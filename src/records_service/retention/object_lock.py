"""Mirroring retention dates and legal holds onto stored objects (S3 object lock).

Owns which keys belong to a record (each version and its sidecar, and its change
notes), the instant a
retain-until day ends, the desired lock state of a record and the ``lock_mirrors``
rows that remember what was applied, so the job only calls the store when
something changed. Retention is only ever extended; legal holds follow the active
holds. Stores without object lock are left alone entirely.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from records_service.clock import Clock
from records_service.dates import add_days
from records_service.db import session_scope
from records_service.records.models import DISPOSED_STATUSES, Record, Version
from records_service.records.sidecars import SIDECAR_SUFFIX, change_notes_prefix, sidecar_key
from records_service.retention.facts import active_holds_for
from records_service.retention.models import LockMirror
from records_service.storage import BlobStore, ObjectNotFound, RetentionMode, StorageError

log = logging.getLogger(__name__)


def lock_instant(until: date) -> datetime:
    """The end of the retain-until day (UTC): a record is kept until the end of that day."""
    following = add_days(until, 1)
    if following is None:  # the calendar's last day ends at its last instant
        return datetime.combine(until, time.max, tzinfo=UTC)
    return datetime.combine(following, time(), tzinfo=UTC)


def record_keys(session: Session, record_ids: Iterable[str]) -> dict[str, list[str]]:
    """Every stored key (content and sidecar) of each record, by record id."""
    wanted = list(record_ids)
    keys: dict[str, list[str]] = {record_id: [] for record_id in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.exec(
            select(Version.record_id, Version.storage_key)
            .where(col(Version.record_id).in_(chunk))
            .order_by(col(Version.record_id), col(Version.number))
        )
        for record_id, key in rows:
            keys[record_id] += [key, sidecar_key(key)]
    return keys


def with_change_notes(store: BlobStore, keys: dict[str, list[str]]) -> dict[str, list[str]]:
    """``keys`` (from :func:`record_keys`) with each record's stored change notes added.

    The notes are listed, as the catalogue does not name them; a note written after
    the listing copies its record's lock when the worker writes it.
    """
    return {
        record_id: [*found, *store.list(change_notes_prefix(record_id))]
        for record_id, found in keys.items()
    }


@dataclass(frozen=True)
class LockTarget:
    """The lock state a record's objects should have."""

    record_id: str
    retain_until: date | None
    legal_hold: bool
    versions: int


def needs_mirroring(target: LockTarget, mirror: LockMirror | None) -> bool:
    """Whether the store must be told something ``mirror`` says it has not been told."""
    if mirror is None:
        return target.retain_until is not None or target.legal_hold
    if target.versions > mirror.versions or target.legal_hold != mirror.legal_hold:
        return True
    if target.retain_until is None:
        return False
    return mirror.retain_until is None or target.retain_until > mirror.retain_until


def apply_lock(
    store: BlobStore,
    keys: list[str],
    target: LockTarget,
    *,
    lift_hold: bool,
    mode: RetentionMode,
) -> None:
    """Extend retention on, and place (or lift) the legal hold on, every key.

    Raises ``StorageError`` from the store; the caller decides whether to go on.
    """
    until = lock_instant(target.retain_until) if target.retain_until else None
    for key in keys:
        try:
            if until is not None:
                store.set_retention(key, until, mode)
            if target.legal_hold or lift_hold:
                store.set_legal_hold(key, target.legal_hold)
        except ObjectNotFound:
            # A sidecar the worker has yet to write: it copies its content's lock,
            # which this loop has already set (content keys come first).
            if not key.endswith(SIDECAR_SUFFIX):
                raise


def remember(
    session: Session, target: LockTarget, mirror: LockMirror | None, now: datetime
) -> None:
    """Record what was applied; a retain-until date is never moved earlier."""
    if mirror is None:
        mirror = LockMirror(record_id=target.record_id, versions=0, mirrored_at=now)
    if target.retain_until and (
        mirror.retain_until is None or target.retain_until > mirror.retain_until
    ):
        mirror.retain_until = target.retain_until
    mirror.legal_hold = target.legal_hold
    mirror.versions = target.versions
    mirror.mirrored_at = now
    session.add(mirror)


def sync_legal_holds(
    engine: Engine,
    store: BlobStore,
    record_ids: Iterable[str],
    *,
    mode: RetentionMode,
    clock: Clock,
) -> int:
    """Make the legal hold on each record's objects match its active holds (after commit).

    Used when a hold is placed or released. Returns how many records could not be
    updated in the store; the retention job retries them on its next run.
    """
    if not store.supports_object_lock:
        return 0
    failures = 0
    for record_id in record_ids:
        with session_scope(engine) as session:
            record = session.get(Record, record_id)
            if record is None or record.status in DISPOSED_STATUSES:
                continue
            mirror = session.get(LockMirror, record_id)
            held = bool(active_holds_for(session, record))
            # Retention (and so the count of versions it covers) is the job's business;
            # only the hold changes here, on every key.
            target = LockTarget(record_id, None, held, mirror.versions if mirror else 0)
            keys = record_keys(session, [record_id])
            lift = not held and (mirror is None or mirror.legal_hold)
            try:
                keys = with_change_notes(store, keys)
                apply_lock(store, keys[record_id], target, lift_hold=lift, mode=mode)
            except StorageError as exc:
                log.warning("could not mirror the legal hold of record %s: %s", record_id, exc)
                failures += 1
                continue
            remember(session, target, mirror, clock())
    return failures
