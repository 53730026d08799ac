"""The replica: a second blob store holding a copy of every object written under a record.

Owns the replica queue (``pending_replicas``), the background step that empties it
(:func:`replicate_pending`) and reading a version from whichever copy is good
(:func:`open_checked`).

What is copied is not a fixed list: for a queued record the step lists everything
under ``records/<id>/`` in the primary store and copies what the replica lacks
(content versions, sidecars, and whatever else gets written there). A record is
queued

* by its capture (first version or a new one), in the capture's transaction;
* by the sidecar writer, each time it has written a sidecar of the record
  (:func:`enqueue_copies` is its ``on_written`` hook), so objects written after
  the commit follow;
* for removal (``purge``) by its disposal, which deletes its objects from the replica
  through the same queue, so an unreachable replica never blocks a disposal.

A row leaves the queue only once its copies are durable in the replica. A content
object is copied only if its bytes hash to the SHA-256 recorded at capture: the
copy is refused at its last byte otherwise, so a damaged primary copy never
reaches the replica (the fixity check reports it). Rows waiting longer than
``replica.overdue_minutes`` become ``missing_replica`` findings (retention job).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from records_service.db import read_scope, session_scope
from records_service.records.models import (
    DISPOSED_STATUSES,
    PendingReplica,
    Record,
    ReplicaOp,
    Version,
)
from records_service.storage import BlobStore, ObjectExists, ObjectNotFound, StorageError

log = logging.getLogger(__name__)

BATCH = 200


def record_prefix(record_id: str) -> str:
    """The key prefix of every object of one record."""
    return f"records/{record_id}/"


def queued_copy(record_id: str, now: datetime) -> PendingReplica:
    """The queue row asking for a record's objects to be copied (for a capture)."""
    return PendingReplica(record_id=record_id, op=ReplicaOp.COPY.value, enqueued_at=now)


def enqueue_copies(session: Session, record_ids: Iterable[str], now: datetime) -> None:
    """Queue the records for copying, in the caller's transaction."""
    session.add_all(queued_copy(record_id, now) for record_id in dict.fromkeys(record_ids))


def purge_later(session: Session, record_id: str, now: datetime) -> None:
    """Replace a record's queued copies with its removal from the replica (disposal)."""
    session.execute(delete(PendingReplica).where(col(PendingReplica.record_id) == record_id))
    session.add(PendingReplica(record_id=record_id, op=ReplicaOp.PURGE.value, enqueued_at=now))


def queue_every_record(session: Session, now: datetime) -> int:
    """Queue every record that still has content for copying (a replica added to an
    archive that already holds records); returns how many. What the replica already
    holds is not copied again."""
    kept = select(Record.id).where(col(Record.status).not_in(DISPOSED_STATUSES))
    ids = list(session.exec(kept))
    for start in range(0, len(ids), 5000):
        enqueue_copies(session, ids[start : start + 5000], now)
        session.flush()
    return len(ids)


def pending_count(session: Session) -> int:
    """How many queue rows wait for the replica step."""
    return int(session.exec(select(func.count()).select_from(PendingReplica)).one())


def waiting_since(session: Session) -> dict[str, datetime]:
    """``record id -> when its oldest queued row was queued``, for the overdue check."""
    rows = session.exec(
        select(PendingReplica.record_id, func.min(PendingReplica.enqueued_at)).group_by(
            col(PendingReplica.record_id)
        )
    )
    return {record_id: since for record_id, since in rows}


def replicate_pending(
    engine: Engine, primary: BlobStore, replica: BlobStore, *, limit: int = BATCH
) -> int:
    """Copy (or purge) up to ``limit`` queued rows' records, oldest first; return the rows
    done. A record that cannot be handled now (a store unreachable) stays queued."""
    with read_scope(engine) as session:
        rows = list(
            session.exec(select(PendingReplica).order_by(col(PendingReplica.id)).limit(limit))
        )
    if not rows:
        return 0
    queued: dict[str, list[PendingReplica]] = defaultdict(list)
    for row in rows:
        queued[row.record_id].append(row)
    done: list[int] = []
    copied: set[str] = set()
    with replica.durable_together():
        for record_id, items in queued.items():
            purge = any(item.op == ReplicaOp.PURGE.value for item in items)
            if purge:
                handled = _purge(replica, record_id)
            else:
                handled = _copy(engine, primary, replica, record_id)
            if handled:
                done.extend(item.id for item in items if item.id is not None)
                if not purge:
                    copied.add(record_id)
    if done:
        _settle(engine, replica, done, copied)
    return len(done)


def _settle(engine: Engine, replica: BlobStore, done: list[int], copied: set[str]) -> None:
    """Remove the done rows; purge again any copied record disposed of meanwhile."""
    with session_scope(engine) as session:
        session.execute(delete(PendingReplica).where(col(PendingReplica.id).in_(done)))
        disposed = set(
            session.exec(
                select(Record.id).where(
                    col(Record.id).in_(copied), col(Record.status).in_(DISPOSED_STATUSES)
                )
            )
        )
    for record_id in disposed:  # a copy that landed after the disposal's purge
        _purge(replica, record_id)


def _purge(replica: BlobStore, record_id: str) -> bool:
    try:
        for key in list(replica.list(record_prefix(record_id))):
            try:
                replica.delete(key)
            except ObjectNotFound:
                continue
    except StorageError as exc:
        log.warning("could not remove record %s from the replica yet: %s", record_id, exc)
        return False
    return True


@dataclass(frozen=True)
class _Known:
    """What the catalogue says about a content object: its hash and media type."""

    sha256: str
    media_type: str


def _catalogued(engine: Engine, record_id: str) -> dict[str, _Known]:
    with read_scope(engine) as session:
        rows = session.exec(
            select(Version.storage_key, Version.sha256, Version.media_type).where(
                Version.record_id == record_id
            )
        )
        return {key: _Known(sha256, media) for key, sha256, media in rows}


def _copy(engine: Engine, primary: BlobStore, replica: BlobStore, record_id: str) -> bool:
    """Copy every object under the record's prefix that the replica lacks."""
    known = _catalogued(engine, record_id)
    prefix = record_prefix(record_id)
    try:
        present = set(replica.list(prefix))
        for key in primary.list(prefix):
            if key not in present:
                _copy_one(primary, replica, key, known.get(key))
    except StorageError as exc:
        log.warning("could not copy record %s to the replica yet: %s", record_id, exc)
        return False
    return True


class DamagedSource(StorageError):
    """The primary copy's bytes do not hash to the recorded SHA-256; it is not copied."""


def _copy_one(primary: BlobStore, replica: BlobStore, key: str, known: _Known | None) -> None:
    content_type = known.media_type if known else "application/json"
    try:
        source = _CheckedStream(primary.open(key), known.sha256 if known else None, key)
        replica.put(key, source, content_type=content_type)  # type: ignore[arg-type]
    except (ObjectExists, ObjectNotFound):
        return  # copied meanwhile, or gone from the primary (disposed of, or lost)
    except DamagedSource as exc:
        log.error("not copied to the replica: %s", exc)


class _CheckedStream:
    """A readable stream over chunks that raises at its end if their hash is wrong.

    The store's put is atomic, so a refused stream leaves nothing under the key.
    """

    def __init__(self, chunks: Iterator[bytes], sha256: str | None, key: str) -> None:
        self._chunks = chunks
        self._expected = sha256
        self._key = key
        self._hash = hashlib.sha256()
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._hash.update(chunk)
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        if not data:
            self._check()
        return data

    def _check(self) -> None:
        actual = self._hash.hexdigest()
        if self._expected is not None and actual != self._expected:
            raise DamagedSource(
                f"{self._key}: the primary copy hashes to {actual}, not the recorded "
                f"{self._expected}"
            )


# Reading a version from whichever copy is good.

Source = Literal["primary", "replica"]


@dataclass(frozen=True)
class Opened:
    """A version's bytes, where they come from, and why the primary was passed over."""

    chunks: Iterator[bytes]
    source: Source
    problem: str | None = None


def open_checked(
    primary: BlobStore, replica: BlobStore | None, key: str, sha256: str | None
) -> Opened:
    """Open ``key`` from the primary store, or from the replica if the primary's copy is
    missing or unreadable, or (given ``sha256``) fails its hash, and the replica's
    copy is good.

    Without a replica the primary is opened as it always was. Given ``sha256``, the
    chosen copy is hashed before it is served (one extra read), since a download
    cannot change its source once the first byte has gone out; without it, the
    replica is used only when the primary cannot be opened. When neither copy is
    good the primary's answer stands (a missing object raises ``ObjectNotFound``).
    """
    if replica is None:
        return Opened(primary.open(key), "primary")
    if sha256 is None:
        return _open_either(primary, replica, key)
    problem = _problem(primary, key, sha256)
    if problem is None:
        return Opened(primary.open(key), "primary")
    if _problem(replica, key, sha256) is None:
        log.warning("serving %s from the replica: the primary copy %s", key, problem)
        return Opened(replica.open(key), "replica", problem)
    log.error("neither copy of %s is good: the primary copy %s", key, problem)
    return Opened(primary.open(key), "primary", problem)


def _open_either(primary: BlobStore, replica: BlobStore, key: str) -> Opened:
    try:
        return Opened(primary.open(key), "primary")
    except StorageError as exc:
        problem = "is missing" if isinstance(exc, ObjectNotFound) else f"cannot be read ({exc})"
        try:
            chunks = replica.open(key)
        except StorageError:
            raise exc from None
        log.warning("serving %s from the replica: the primary copy %s", key, problem)
        return Opened(chunks, "replica", problem)


def _problem(store: BlobStore, key: str, sha256: str) -> str | None:
    """``None`` if the store's copy of ``key`` hashes to ``sha256``; else what is wrong."""
    digest = hashlib.sha256()
    try:
        for chunk in store.open(key):
            digest.update(chunk)
    except ObjectNotFound:
        return "is missing"
    except StorageError as exc:
        return f"cannot be read ({exc})"
    if digest.hexdigest() != sha256:
        return "does not match its recorded SHA-256"
    return None
