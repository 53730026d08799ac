"""Keys and bodies of notes, queueing them with their change, and writing them after commit.

The change's transaction inserts the note's exact JSON into ``pending_notes``; the
background worker writes it (:func:`write_pending_notes`) and only then removes the
row, so a crash or a storage outage delays a note but never loses it, and a change
that rolls back leaves none. A key already taken counts as written: its body was
fixed when it was queued. Notes are never deleted by the service; on a store with
object lock each is locked for ``audit.retention_years`` from its queueing, as the
signed audit checkpoints are.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from records_service.clock import Clock
from records_service.db import read_scope, session_scope
from records_service.notes.models import PendingNote
from records_service.storage import BlobStore, ObjectExists, StorageError

log = logging.getLogger(__name__)

NOTES_PREFIX = "notes/"
NOTE_FORMAT = 2  # the sidecar format these notes came with (docs/storage.md)
NoteKind = Literal["disposal", "contract", "hold"]
FOLDERS: dict[NoteKind, str] = {"disposal": "disposals", "contract": "contracts", "hold": "holds"}
BATCH = 200


def note_key(kind: NoteKind, sequence: int, *, record_id: str | None = None) -> str:
    """A new key for a note; ``sequence`` orders notes of one kind (an audit index, or a
    disposition id under its record). The random part keeps two notes apart whose
    sequence repeats (a database restored from an older copy reuses indices)."""
    folder = f"{NOTES_PREFIX}{FOLDERS[kind]}/"
    if record_id is not None:
        folder += f"{record_id}/"
    return f"{folder}{sequence:020d}-{uuid.uuid4().hex[:12]}.json"


def note_body(kind: NoteKind, fields: Mapping[str, Any]) -> str:
    """The note's JSON text: stable key order, dates and times as ``str`` gives them."""
    return json.dumps(
        {"format": NOTE_FORMAT, "kind": kind, **fields}, sort_keys=True, indent=2, default=str
    )


def queue_note(
    session: Session,
    kind: NoteKind,
    fields: Mapping[str, Any],
    *,
    sequence: int,
    clock: Clock,
    record_id: str | None = None,
) -> str:
    """Queue a note in the caller's transaction; returns its key."""
    key = note_key(kind, sequence, record_id=record_id)
    session.add(PendingNote(storage_key=key, body=note_body(kind, fields), enqueued_at=clock()))
    return key


def pending_count(session: Session) -> int:
    """How many notes wait to be written (``/health``: ``database.notes_pending``)."""
    return int(session.exec(select(func.count()).select_from(PendingNote)).one())


def write_pending_notes(
    engine: Engine, store: BlobStore, *, retain_years: int, limit: int = BATCH
) -> int:
    """Write up to ``limit`` queued notes, oldest first; return how many were done.

    One that cannot be written now stays queued for the next round.
    """
    with read_scope(engine) as session:
        rows = list(session.exec(select(PendingNote).order_by(col(PendingNote.id)).limit(limit)))
    if not rows:
        return 0
    with store.durable_together():
        written = [row.id for row in rows if _write_one(store, row, retain_years)]
    if written:
        with session_scope(engine) as session:
            session.execute(delete(PendingNote).where(col(PendingNote.id).in_(written)))
    return len(written)


def _write_one(store: BlobStore, row: PendingNote, retain_years: int) -> bool:
    until = _years_after(row.enqueued_at, retain_years) if store.supports_object_lock else None
    try:
        with contextlib.suppress(ObjectExists):
            store.put(
                row.storage_key,
                io.BytesIO(row.body.encode("utf-8")),
                content_type="application/json",
                retain_until=until,
            )
    except StorageError as exc:
        log.warning("could not write note %s yet: %s", row.storage_key, exc)
        return False
    return True


def _years_after(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)
