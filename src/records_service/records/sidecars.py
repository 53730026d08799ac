"""The JSON sidecars that let the object store describe itself.

Each content version (``records/<id>/v1``, ``records/<id>/v<N>-<upload id>``) gets a
write-once sidecar under the same key plus ``.json``, holding the metadata captured
with it and the details of its contract. Each metadata edit gets a write-once
*change note* (``records/<id>/changes/<sequence>-<random>.json``) with the fields
changed and the record's metadata after the edit. With both, the catalogue can be
rebuilt from the bucket if the database is ever lost
(:mod:`records_service.records.recovery`; the layout is in docs/storage.md).

Owns the keys and bodies of both, and writing them **after** the change commits.
The capture (or edit) transaction queues the exact body in ``pending_sidecars``;
the background worker writes it (:func:`write_pending_sidecars`, through
:func:`write_sidecar`, the one place a sidecar or note reaches the store) and only
then removes the row, so a crash or a storage outage delays a sidecar but never
loses it. Keeping the write out of the request saves the capture a second object
write (on S3, a second PUT). Until it is written:

* the content is already durable and catalogued (invariant 2 covers content,
  rows and the audit entry, not the sidecar);
* ``records-service check`` does not count the sidecar as missing;
* disposal of the record drops it from the queue. A worker that was writing it
  at that moment finds its queue row gone and the record disposed of, and
  deletes what it wrote, so a late sidecar never outlives its record;
* the retention job's lock mirroring skips it. On a store with object lock the
  writer gives each new sidecar the lock its content object has, re-reading the
  content's lock until it is unchanged: the job locks content before sidecar, and
  the writer puts the sidecar before reading the content's lock, so whichever
  runs second sees the other's work.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from records_service.clock import Clock
from records_service.db import read_scope, session_scope
from records_service.records.models import DISPOSED_STATUSES, PendingSidecar, Record
from records_service.storage import (
    BlobStore,
    ObjectExists,
    ObjectNotFound,
    RetentionMode,
    StorageError,
)

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".json"
# Sidecars and change notes written since contract details and change notes came;
# sidecars without a "format" field are the first layout (see docs/storage.md).
SIDECAR_FORMAT = 2
CHANGES = "changes"
_CHANGE_NOTE = re.compile(r"records/([A-Za-z0-9._-]{1,32})/changes/([0-9]{8})-[0-9a-f]{12}\.json")
BATCH = 200
# How often the writer re-reads a content object's lock before giving up for this round.
LOCK_SETTLE_ATTEMPTS = 5


def sidecar_key(content_key: str) -> str:
    """The key of a version's JSON sidecar."""
    return f"{content_key}{SIDECAR_SUFFIX}"


def content_key_of(sidecar: str) -> str:
    """The content key a sidecar key describes."""
    return sidecar.removesuffix(SIDECAR_SUFFIX)


def change_note_key(record_id: str, sequence: int) -> str:
    """A new key for a change note of ``record_id``; ``sequence`` orders a record's notes.

    The random part keeps two edits that read the same sequence from sharing a key.
    """
    return f"records/{record_id}/{CHANGES}/{sequence:08d}-{uuid.uuid4().hex[:12]}{SIDECAR_SUFFIX}"


def change_note_record(key: str) -> str | None:
    """The record id a change note key belongs to; ``None`` if ``key`` is not one."""
    match = _CHANGE_NOTE.fullmatch(key)
    return match.group(1) if match else None


def change_notes_prefix(record_id: str) -> str:
    """The prefix under which a record's change notes are stored."""
    return f"records/{record_id}/{CHANGES}/"


def lock_source(key: str) -> str:
    """The content key whose object lock the sidecar or change note at ``key`` copies.

    A change note belongs to the record as a whole; its first version lives as long.
    """
    record_id = change_note_record(key)
    if record_id is not None:
        return f"records/{record_id}/v1"
    return content_key_of(key)


def record_metadata(
    *,
    title: str,
    record_type: str,
    contract: str | None,
    tags: list[str],
    classification: str,
    originator: str | None,
    record_date: date,
) -> dict[str, object]:
    """A record's editable metadata as sidecars and change notes carry it."""
    return {
        "title": title,
        "record_type": record_type,
        "contract": contract,
        "tags": tags,
        "classification": classification,
        "originator": originator,
        "record_date": record_date,
    }


def sidecar_body(metadata: Mapping[str, Any]) -> str:
    """The sidecar's JSON text: stable key order, dates and times as ``str`` gives them."""
    return json.dumps(metadata, sort_keys=True, indent=2, default=str)


def queued_sidecar(
    *, record_id: str, version: int, content_key: str, body: str, clock: Clock
) -> PendingSidecar:
    """The queue row of a version's sidecar (``body`` from :func:`sidecar_body`), for
    the capture to insert in its transaction."""
    return PendingSidecar(
        record_id=record_id,
        version=version,
        storage_key=sidecar_key(content_key),
        body=body,
        enqueued_at=clock(),
    )


def queued_change_note(
    *, record_id: str, version: int, sequence: int, body: str, clock: Clock
) -> PendingSidecar:
    """The queue row of a change note, for the edit to add in its transaction."""
    return PendingSidecar(
        record_id=record_id,
        version=version,
        storage_key=change_note_key(record_id, sequence),
        body=body,
        enqueued_at=clock(),
    )


def pending_keys(session: Session) -> set[str]:
    """Keys of the sidecars still waiting to be written."""
    return set(session.exec(select(PendingSidecar.storage_key)))


def pending_count(session: Session, record_id: str | None = None) -> int:
    """How many sidecars wait to be written (for one record, or in all)."""
    query = select(func.count()).select_from(PendingSidecar)
    if record_id is not None:
        query = query.where(col(PendingSidecar.record_id) == record_id)
    return int(session.exec(query).one())


# Called in the transaction that settles written sidecars, with their records' ids.
OnWritten = Callable[[Session, list[str]], None]


def write_pending_sidecars(
    engine: Engine,
    store: BlobStore,
    *,
    mode: RetentionMode,
    limit: int = BATCH,
    on_written: OnWritten | None = None,
) -> int:
    """Write up to ``limit`` queued sidecars, oldest first; return how many were done.

    A sidecar already stored (written before a crash, or by another worker) counts
    as written: its body is fixed at capture. One that cannot be written now stays
    queued for the next round. ``mode`` is the retention mode for sidecars whose
    content is under retention (on stores with object lock). ``on_written`` runs in
    the transaction that removes the written sidecars' queue rows (the replica
    queues their records there), so it happens exactly when they leave the queue.
    """
    with read_scope(engine) as session:
        rows = list(
            session.exec(select(PendingSidecar).order_by(col(PendingSidecar.id)).limit(limit))
        )
    if not rows:
        return 0
    with store.durable_together():
        written = [row for row in rows if _write_one(store, row, mode)]
    if written:
        _settle(engine, store, written, on_written)
    return len(written)


def drop_pending(session: Session, record_id: str) -> None:
    """Forget a record's queued sidecars (its disposal deletes what it has stored)."""
    session.execute(delete(PendingSidecar).where(col(PendingSidecar.record_id) == record_id))


def _settle(
    engine: Engine, store: BlobStore, written: list[PendingSidecar], on_written: OnWritten | None
) -> None:
    """Remove the written sidecars' queue rows; delete any whose record was disposed of.

    A row that is gone was dropped by a disposal, which may have deleted the record's
    objects before this sidecar landed. (On PostgreSQL the delete below waits for such
    a disposal to commit, as SQLite's write lock does.) A row another worker settled
    belongs to a record that is still kept, and its sidecar stays.
    """
    ids = [row.id for row in written]
    with session_scope(engine) as session:
        removed = set(
            session.execute(
                delete(PendingSidecar)
                .where(col(PendingSidecar.id).in_(ids))
                .returning(col(PendingSidecar.id))
            ).scalars()
        )
        vanished = {row.record_id for row in written if row.id not in removed}
        disposed = _disposed(session, vanished) if vanished else set()
        if on_written is not None:
            kept = [row.record_id for row in written if row.record_id not in disposed]
            on_written(session, kept)
    for row in written:
        if row.record_id in disposed:
            try:
                store.delete(row.storage_key)
            except ObjectNotFound:
                continue
            except StorageError as exc:  # `records-service check` reports it as an orphan
                log.warning("could not delete disposed sidecar %s: %s", row.storage_key, exc)


def _disposed(session: Session, record_ids: set[str]) -> set[str]:
    rows = session.exec(
        select(Record.id).where(
            col(Record.id).in_(record_ids), col(Record.status).in_(DISPOSED_STATUSES)
        )
    )
    return set(rows)


def write_sidecar(store: BlobStore, key: str, body: str) -> None:
    """Put one sidecar or change note; every one reaches the store through here.

    A key already taken counts as written: its body was fixed when it was queued.
    Raises ``StorageError`` when the store refuses or cannot be reached.
    """
    with contextlib.suppress(ObjectExists):
        store.put(key, io.BytesIO(body.encode("utf-8")), content_type="application/json")


def _write_one(store: BlobStore, row: PendingSidecar, mode: RetentionMode) -> bool:
    try:
        write_sidecar(store, row.storage_key, row.body)
    except StorageError as exc:
        log.warning("could not write sidecar %s yet: %s", row.storage_key, exc)
        return False
    if not store.supports_object_lock:
        return True
    try:
        return _copy_lock(store, lock_source(row.storage_key), row.storage_key, mode)
    except StorageError as exc:
        log.warning("could not lock sidecar %s yet: %s", row.storage_key, exc)
        return False


def _copy_lock(store: BlobStore, content: str, sidecar: str, mode: RetentionMode) -> bool:
    """Give ``sidecar`` the retention and legal hold ``content`` has, until both agree.

    Reads the content's lock after the sidecar exists and again after each change,
    so a lock the retention job places meanwhile is either seen here or placed by
    the job on the sidecar too.
    """
    applied: tuple[datetime | None, bool] = (None, False)  # a new sidecar has neither
    for _ in range(LOCK_SETTLE_ATTEMPTS):
        try:
            info = store.stat(content)
        except ObjectNotFound:
            return True  # the content is gone: nothing to mirror
        wanted = (info.retain_until, info.legal_hold)
        if wanted == applied:
            return True
        if info.retain_until is not None and info.retain_until != applied[0]:
            store.set_retention(sidecar, info.retain_until, mode)
        if info.legal_hold != applied[1]:
            store.set_legal_hold(sidecar, info.legal_hold)
        applied = wanted
    log.warning("the lock of %s kept changing; sidecar %s is retried later", content, sidecar)
    return False
