"""Writing one group of an import's files: the content of the files it captures stored
first, then one transaction holding every row and audit entry of the group.

The captures go through the capture path's own steps
(:func:`records_service.records.capture.stage_capture`, then
:func:`~records_service.records.capture.insert_staged` and
:func:`~records_service.records.capture.audit_staged` in the transaction), so each
record gets exactly the rows, sidecar, index task and audit entry a single capture
gives it, with its provenance. The audit entries follow the files' order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlmodel import Session, col, select

from records_service.auth.models import User
from records_service.db import read_scope, session_scope
from records_service.imports.batches import Settled, audit_duplicate, file_rows, provenance
from records_service.imports.models import ImportBatch, Outcome
from records_service.records.capture import (
    CaptureContext,
    Imported,
    KnownContracts,
    Staged,
    audit_staged,
    check_metadata,
    content_key,
    discard_staged,
    insert_staged,
    stage_capture,
)
from records_service.records.models import Record
from records_service.records.schemas import RecordMetadata

# Threads that store a group's content at once (see _stage).
STAGING_THREADS = 4


@dataclass(frozen=True)
class ToCapture:
    """A file to capture: its outcome once captured (with the record's id), its
    metadata, and its bytes from the start."""

    settled: Settled
    meta: RecordMetadata
    stream: Callable[[], AbstractContextManager[BinaryIO]]

    @property
    def record_id(self) -> str:
        assert self.settled.outcome.record_id is not None
        return self.settled.outcome.record_id


def write_group(
    ctx: CaptureContext, batch: ImportBatch, actor: User, items: Sequence[Settled | ToCapture]
) -> None:
    """Write the outcomes of a group's files, capturing those to capture; all or nothing.

    Raises the ``DomainError`` of a capture refused; nothing of the group is then
    written, and its stored objects are removed.
    """
    if not items:  # every file settled by an earlier run: no transaction to take
        return
    now = ctx.clock()
    captures = [item for item in items if isinstance(item, ToCapture)]
    staged = _stage(ctx, batch, actor, captures, now)
    try:
        with session_scope(ctx.engine) as session:
            insert_staged(session, staged)
            settled = [item.settled if isinstance(item, ToCapture) else item for item in items]
            file_rows(session, batch, settled, actor=actor, at=now)
            _audit(session, ctx, batch, actor, items, staged, now)
    except BaseException:
        for one in staged:
            discard_staged(ctx, one)
        raise


def _stage(
    ctx: CaptureContext, batch: ImportBatch, actor: User, captures: list[ToCapture], at: datetime
) -> list[Staged]:
    """Store every capture's content, durable before the transaction refers to it.

    Several threads store at once: each object's own sync then overlaps the others'
    (the filesystem commits their journal entries together), where one after another
    each would wait for its own.
    """
    if not captures:
        return []
    if batch.runs > 1:
        _clear_leftovers(ctx, [capture.record_id for capture in captures])
    known: KnownContracts = {}
    with read_scope(ctx.engine) as session:
        checked = [(c, check_metadata(session, c.meta, ctx, known)) for c in captures]
    staged: list[Staged] = []  # appended to by every thread (list.append is atomic)
    with ThreadPoolExecutor(STAGING_THREADS, thread_name_prefix="import-store") as pool:
        slices = [checked[start::STAGING_THREADS] for start in range(STAGING_THREADS)]
        done = [pool.submit(_stage_slice, ctx, batch, actor, part, at, staged) for part in slices]
    failed = next((future.exception() for future in done if future.exception()), None)
    if failed is not None:
        for one in staged:
            discard_staged(ctx, one)
        raise failed
    return staged


Checked = tuple[ToCapture, tuple[int | None, dict[str, Any] | None]]


def _stage_slice(
    ctx: CaptureContext,
    batch: ImportBatch,
    actor: User,
    part: list[Checked],
    at: datetime,
    staged: list[Staged],
) -> None:
    """Store the content of ``part`` in one thread, its directories synced together."""
    with ctx.store.durable_together():
        for capture, contract in part:
            file = capture.settled.file
            imported = Imported(
                capture.record_id, provenance(batch, file, capture.settled.size, actor, at)
            )
            with capture.stream() as stream:
                one = stage_capture(
                    ctx,
                    meta=capture.meta,
                    contract=contract,
                    source=stream,
                    filename=file.name,
                    actor=actor,
                    imported=imported,
                )
            staged.append(one)


def _audit(
    session: Session,
    ctx: CaptureContext,
    batch: ImportBatch,
    actor: User,
    items: Sequence[Settled | ToCapture],
    staged: list[Staged],
    at: datetime,
) -> None:
    """Each capture's and each duplicate sighting's entry, in the files' order."""
    by_record = {one.rows.record.id: one for one in staged}
    for item in items:
        if isinstance(item, ToCapture):
            audit_staged(session, ctx, by_record[item.record_id])
        elif item.outcome.outcome is Outcome.DUPLICATE:
            audit_duplicate(session, batch, item, actor=actor, at=at, clock=ctx.clock)


def _clear_leftovers(ctx: CaptureContext, record_ids: list[str]) -> None:
    """Remove what a run killed before its group committed left under these records'
    keys: the records themselves were never committed (their outcomes would have been)."""
    keys = {record_id: content_key(record_id, 1) for record_id in record_ids}
    present = [record_id for record_id, key in keys.items() if ctx.store.exists(key)]
    if not present:
        return
    with read_scope(ctx.engine) as session:
        recorded = set(session.exec(select(Record.id).where(col(Record.id).in_(present))))
    for record_id in present:
        if record_id not in recorded:
            ctx.store.delete(keys[record_id])
