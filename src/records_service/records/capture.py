"""The capture pipeline: ordered steps that land a record as a whole or not at all.

Steps and their contract:

1. ``check_metadata``: validates everything the client said (record type
   known, contract exists, dates sane, filename clean). No side effects.
2. ``store_stream``: streams the bytes into the blob store under a fresh key
   while hashing, counting and sniffing. May assume 1 passed. On failure the
   store holds nothing under the key (the store's put is atomic).
3. ``persist`` in one transaction: holds the record (or new version) rows, the
   tags, the index task, the queued sidecar, the replica queue row (with a
   replica configured) and the audit entry. It re-checks
   only what can change between the steps (a new version re-reads its record;
   contracts are never deleted, so step 1's contract id still holds). On
   failure the object is removed; if removal fails too it stays as an orphan
   that ``records-service check`` reports.

A single capture runs the steps in turn. A bulk import runs step 1 for a group of
files, step 2 for each (``stage_capture``), then writes the whole group's rows and
audit entries in one transaction (``insert_staged``, ``audit_staged``): the same rows
and entries, one commit.

After the commit the background worker writes the sidecar
(:mod:`records_service.records.sidecars`), extracts the text and indexes it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from sqlalchemy import Engine, Table
from sqlmodel import Session

from records_service.audit.actions import (
    AuditAction,
    CapturePayload,
    ImportedCapturePayload,
    Provenance,
)
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.bounds import DATE_MIN, normalise_tags
from records_service.clock import Clock
from records_service.contracts.service import contract_details
from records_service.db import NewRows, insert_rows, new_rows, read_scope, session_scope
from records_service.errors import Conflict, InvalidInput, NotFound, RecordDisposed
from records_service.extraction.media_types import MESSAGES
from records_service.records.content import StoredContent, clean_filename, store_stream
from records_service.records.models import (
    DISPOSED_STATUSES,
    IndexTask,
    PendingSplit,
    Record,
    RecordTag,
    Version,
)
from records_service.records.replica import queued_copy
from records_service.records.schemas import RecordMetadata
from records_service.records.sidecars import (
    SIDECAR_FORMAT,
    queued_sidecar,
    record_metadata,
    sidecar_body,
)
from records_service.storage import BlobStore, StorageError

log = logging.getLogger(__name__)

EARLIEST_RECORD_DATE = DATE_MIN


@dataclass(frozen=True)
class CaptureContext:
    """What every capture needs besides the request itself."""

    engine: Engine
    store: BlobStore
    clock: Clock
    record_types: frozenset[str]
    max_upload_bytes: int
    # Queue each capture's objects for the replica (when one is configured).
    replicate: bool = False


def content_key(record_id: str, number: int, attempt: str | None = None) -> str:
    """Storage key of a version's content: ``records/<id>/v<N>[-<attempt>]``.

    A first version needs no attempt: its record id is new with each capture. Later
    versions of one record can be uploaded at the same time, and only the commit
    decides which becomes version N; each upload then has its own key, so the
    loser's upload and clean-up never touch the winner's object. (On S3, "is the
    key free?" and the upload are separate requests, so a shared key would let one
    upload replace the other.)
    """
    suffix = f"-{attempt}" if attempt else ""
    return f"records/{record_id}/v{number}{suffix}"


def check_record_type(record_type: str, known: frozenset[str]) -> None:
    """Refuse a record type the schedule does not know."""
    if record_type not in known:
        raise InvalidInput(
            f"unknown record type {record_type!r}",
            errors=[{"field": "record_type", "allowed": sorted(known)}],
        )


def check_record_date(value: date, today: date) -> None:
    """Refuse a record date in the future or implausibly old."""
    if value > today:
        raise InvalidInput(f"record_date {value} is in the future")
    if value < EARLIEST_RECORD_DATE:
        raise InvalidInput(f"record_date {value} is before {EARLIEST_RECORD_DATE}")


# Contracts already looked up by reference, with their ids and details: a bulk import
# looks each up once per group of files rather than once per file.
KnownContracts = dict[str, tuple[int, dict[str, Any]]]


def check_metadata(
    session: Session, meta: RecordMetadata, ctx: CaptureContext, known: KnownContracts | None = None
) -> tuple[int | None, dict[str, Any] | None]:
    """Step 1; returns the contract's id and its details (for the sidecar), from
    ``known`` when they are there (and kept there when looked up)."""
    check_record_type(meta.record_type, ctx.record_types)
    check_record_date(meta.record_date, ctx.clock().date())
    if meta.contract is None:
        return None, None
    if known is not None and meta.contract in known:
        return known[meta.contract]
    try:
        found = contract_details(session, meta.contract)
    except NotFound as exc:
        raise InvalidInput(str(exc), errors=[{"field": "contract"}]) from None
    if known is not None:
        known[meta.contract] = found
    return found


def _sidecar(rows: _Described, actor: User) -> dict[str, object]:
    """A version's sidecar: the record's metadata, the contract's details and the version."""
    record, version = rows.record, rows.version
    metadata = record_metadata(
        title=record.title,
        record_type=record.record_type,
        contract=rows.contract_ref,
        tags=rows.tags,
        classification=record.classification,
        originator=record.originator,
        record_date=record.record_date,
    )
    body: dict[str, object] = {
        "format": SIDECAR_FORMAT,
        "record_id": record.id,
        "version": version.number,
        **metadata,
        "contract_details": rows.contract_details,
        "sha256": version.sha256,
        "size": version.size,
        "media_type": version.media_type,
        "filename": version.original_filename,
        "captured_at": version.captured_at,
        "captured_by": actor.username,
    }
    if rows.provenance is not None:
        body["provenance"] = rows.provenance.model_dump(mode="json")
    return body


def _remove_quietly(store: BlobStore, key: str) -> None:
    try:
        if store.exists(key):
            store.delete(key)
    except StorageError:
        log.exception("could not remove %s after a failed capture; it is now an orphan", key)


# Further writes a caller makes in the capture's own transaction, once the rows and the
# audit entry are in (an idempotency key's completion).
InTransaction = Callable[[Session, Record, Version], None]


@dataclass(frozen=True)
class Imported:
    """What a bulk import adds to a capture: the record's id (fixed by the import, so
    that a capture cut short leaves its object where a re-run finds it) and the file's
    provenance."""

    record_id: str
    provenance: Provenance


@dataclass(frozen=True)
class _Described:
    """What a capture will write, built from the stored content before the transaction."""

    record: Record
    version: Version
    contract_ref: str | None
    tags: list[str]
    contract_details: dict[str, Any] | None
    provenance: Provenance | None
    # The rows persist inserts as they are, laid out before SQLite's write lock is taken.
    inserts: list[NewRows | None]


@dataclass(frozen=True)
class Staged:
    """A capture whose content is stored and whose rows are laid out (steps 2 and 3
    up to the transaction): :func:`insert_staged` and :func:`audit_staged` write it in
    a transaction, and :func:`discard_staged` removes its object when that fails."""

    rows: _Described
    after: list[NewRows | None]
    payload: CapturePayload
    actor: User
    action: AuditAction

    @property
    def key(self) -> str:
        """The storage key of the stored content."""
        return self.rows.version.storage_key


def _stage(
    ctx: CaptureContext,
    *,
    key: str,
    source: BinaryIO,
    filename: str,
    describe: Callable[[StoredContent], _Described],
    actor: User,
    action: AuditAction,
) -> Staged:
    """Step 2 and the rows of step 3, laid out before the transaction. On failure the
    store holds nothing under ``key``."""
    stored = store_stream(ctx.store, key, source, limit=ctx.max_upload_bytes, filename=filename)
    try:
        rows = describe(stored)
        after, payload = _bookkeeping(ctx, rows, stored=stored, actor=actor)
    except BaseException:
        _remove_quietly(ctx.store, key)
        raise
    return Staged(rows, after, payload, actor, action)


def _write(
    session: Session,
    ctx: CaptureContext,
    staged: Staged,
    persist: Callable[[Session, _Described], Record],
    in_transaction: InTransaction | None,
) -> Record:
    """Step 3 in ``session``'s transaction: ``persist`` checks and writes the rows, then
    the bookkeeping rows and the audit entry follow."""
    record = persist(session, staged.rows)
    for laid_out in staged.after:
        insert_rows(session, laid_out)
    audit_staged(session, ctx, staged)
    if in_transaction is not None:
        in_transaction(session, record, staged.rows.version)
    return record


def audit_staged(session: Session, ctx: CaptureContext, staged: Staged) -> None:
    """The capture's audit entry, in ``session``'s transaction."""
    record_event(
        session,
        actor=staged.actor.username,
        action=staged.action,
        subject=f"record:{staged.rows.record.id}",
        payload=staged.payload,
        clock=ctx.clock,
    )


def discard_staged(ctx: CaptureContext, staged: Staged) -> None:
    """Remove a staged capture's object after its transaction failed (an orphan that
    ``records-service check`` reports if even that fails)."""
    _remove_quietly(ctx.store, staged.key)


def _land(
    ctx: CaptureContext,
    *,
    key: str,
    source: BinaryIO,
    filename: str,
    describe: Callable[[StoredContent], _Described],
    persist: Callable[[Session, _Described], Record],
    actor: User,
    action: AuditAction,
    in_transaction: InTransaction | None,
) -> tuple[Record, Version]:
    """Steps 2 to 4, shared by first capture and new versions.

    ``describe`` builds the rows from what was stored (no database); ``persist``
    checks and writes them inside the transaction; ``then`` writes more in it,
    once the capture's own entry is in the audit log. Everything that does not depend
    on the database is prepared before it, so that SQLite's write lock is held for
    the statements only.
    """
    staged = _stage(
        ctx,
        key=key,
        source=source,
        filename=filename,
        describe=describe,
        actor=actor,
        action=action,
    )
    return _commit(ctx, staged, persist, in_transaction)


def _commit(
    ctx: CaptureContext,
    staged: Staged,
    persist: Callable[[Session, _Described], Record],
    in_transaction: InTransaction | None,
) -> tuple[Record, Version]:
    """Step 3's transaction for one staged capture; its object goes if that fails."""
    try:
        with session_scope(ctx.engine) as session:
            record = _write(session, ctx, staged, persist, in_transaction)
    except BaseException:
        discard_staged(ctx, staged)
        raise
    return record, staged.rows.version


def _bookkeeping(
    ctx: CaptureContext, rows: _Described, *, stored: StoredContent, actor: User
) -> tuple[list[NewRows | None], CapturePayload]:
    """The sidecar's queue row and the index task, laid out, and the audit payload."""
    record, version = rows.record, rows.version
    sidecar = sidecar_body(_sidecar(rows, actor))
    queued = queued_sidecar(
        record_id=record.id,
        version=version.number,
        content_key=stored.key,
        body=sidecar,
        clock=ctx.clock,
    )
    task = IndexTask(record_id=record.id, op="upsert", enqueued_at=ctx.clock())
    fields = {
        "version": version.number,
        "sha256": stored.sha256,
        "size": stored.size,
        "media_type": stored.media_type,
        "filename": version.original_filename,
        "record_type": record.record_type,
        "contract": rows.contract_ref,
        "title": record.title,
    }
    payload = (
        CapturePayload.model_validate(fields)
        if rows.provenance is None
        else ImportedCapturePayload.model_validate({**fields, "provenance": rows.provenance})
    )
    copies = [queued_copy(record.id, ctx.clock())] if ctx.replicate else []
    # A message's attachments become records of their own, in the background.
    split = (
        [PendingSplit(record_id=record.id, version=version.number, enqueued_at=ctx.clock())]
        if stored.media_type in MESSAGES
        else []
    )
    rows_ = [new_rows([queued]), new_rows([task]), new_rows(copies), new_rows(split)]
    return rows_, payload


def _new_version(
    record_id: str,
    number: int,
    stored: StoredContent,
    filename: str,
    actor: User,
    ctx: CaptureContext,
) -> Version:
    assert actor.id is not None
    return Version(
        record_id=record_id,
        number=number,
        sha256=stored.sha256,
        size=stored.size,
        media_type=stored.media_type,
        original_filename=filename,
        storage_key=stored.key,
        captured_at=ctx.clock(),
        captured_by_id=actor.id,
    )


def stage_capture(
    ctx: CaptureContext,
    *,
    meta: RecordMetadata,
    contract: tuple[int | None, dict[str, Any] | None],
    source: BinaryIO,
    filename: str | None,
    actor: User,
    imported: Imported | None = None,
) -> Staged:
    """Store a new record's first version and lay out its rows (see :class:`Staged`).

    ``contract`` is what :func:`check_metadata` returned for ``meta``. Contracts are
    never deleted, so the id found then still holds when the rows are written (and the
    foreign key would refuse it otherwise): no second lookup inside the transaction,
    which holds SQLite's write lock.
    """
    name = clean_filename(filename)
    tags = normalise_tags(meta.tags)
    record_id = imported.record_id if imported else uuid.uuid4().hex
    provenance = imported.provenance if imported else None
    contract_pk, details = contract

    def describe(stored: StoredContent) -> _Described:
        now = ctx.clock()
        assert actor.id is not None
        record = Record(
            id=record_id,
            title=meta.title,
            record_type=meta.record_type,
            classification=meta.classification.value,
            originator=meta.originator,
            record_date=meta.record_date,
            contract_id=contract_pk,
            captured_at=now,
            captured_by_id=actor.id,
            updated_at=now,
        )
        version = _new_version(record_id, 1, stored, name, actor, ctx)
        tag_rows = [RecordTag(record_id=record_id, tag=t) for t in tags]
        inserts = [new_rows([record]), new_rows([version]), new_rows(tag_rows)]
        return _Described(record, version, meta.contract, tags, details, provenance, inserts)

    key = content_key(record_id, 1)
    action = AuditAction.RECORD_CAPTURE
    return _stage(
        ctx, key=key, source=source, filename=name, describe=describe, actor=actor, action=action
    )


def insert_staged(session: Session, staged: Sequence[Staged]) -> None:
    """Insert the rows of staged first captures in ``session``'s transaction, each
    table's rows in one statement (parents first): the rows :func:`capture_record`
    writes for each. Their audit entries follow with :func:`audit_staged`."""
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for one in staged:
        for laid_out in [*one.rows.inserts, *one.after]:
            if laid_out is not None:
                by_table.setdefault(laid_out.table, []).extend(laid_out.values)
    for table, values in by_table.items():
        insert_rows(session, NewRows(table, values))


def _insert_described(session: Session, rows: _Described) -> Record:
    for laid_out in rows.inserts:
        insert_rows(session, laid_out)
    return rows.record


def capture_record(
    ctx: CaptureContext,
    *,
    meta: RecordMetadata,
    source: BinaryIO,
    filename: str | None,
    actor: User,
    in_transaction: InTransaction | None = None,
) -> tuple[Record, Version]:
    """Declare a new record with its first version; all or nothing.

    ``in_transaction`` writes more rows (and audit entries) about the new record in the
    same transaction; if it raises, nothing is captured.
    """
    clean_filename(filename)  # refused before the contract is looked up
    with read_scope(ctx.engine) as session:
        contract = check_metadata(session, meta, ctx)
    staged = stage_capture(
        ctx,
        meta=meta,
        contract=contract,
        source=source,
        filename=filename,
        actor=actor,
    )
    return _commit(ctx, staged, _insert_described, in_transaction)


def add_version(
    ctx: CaptureContext,
    *,
    record: Record,
    contract_ref: str | None,
    tags: list[str],
    source: BinaryIO,
    filename: str | None,
    actor: User,
    details: dict[str, Any] | None = None,
    in_transaction: InTransaction | None = None,
) -> tuple[Record, Version]:
    """Add the next content version to ``record``; earlier versions stay untouched.

    ``details`` are the contract's (see ``contract_details``), kept in the sidecar.
    """
    name = clean_filename(filename)
    number = record.current_version + 1

    def describe(stored: StoredContent) -> _Described:
        version = _new_version(record.id, number, stored, name, actor, ctx)
        return _Described(record, version, contract_ref, tags, details, None, [new_rows([version])])

    def persist(session: Session, rows: _Described) -> Record:
        current = session.get(Record, record.id)
        if current is None:
            raise NotFound(f"no record {record.id}")
        if current.status in DISPOSED_STATUSES:
            raise RecordDisposed(f"record {record.id} was {current.status}; no new versions")
        if current.current_version != record.current_version:
            raise Conflict("another version was added at the same time; retry")
        current.current_version = number
        current.updated_at = ctx.clock()
        session.add(current)
        session.flush()
        for laid_out in rows.inserts:
            insert_rows(session, laid_out)
        return current

    return _land(
        ctx,
        key=content_key(record.id, number, attempt=uuid.uuid4().hex[:12]),
        source=source,
        filename=name,
        describe=describe,
        persist=persist,
        actor=actor,
        action=AuditAction.RECORD_VERSION,
        in_transaction=in_transaction,
    )
