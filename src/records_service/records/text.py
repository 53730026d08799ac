"""Extracting text from captured versions after commit, so a capture never waits or fails on it.

Versions start with text status ``pending``. :func:`extract_pending` fetches a
batch, runs the extractor for each version's media type on a file with its bytes
(the local store's own file, or a temporary copy from S3: ``BlobStore.as_file``)
and stores the text and status. A failure is recorded as status ``failed`` with
the reason; the record stays findable by its metadata. Content missing from the
store fails too (it is not retried for ever), and is reported through the
``on_missing`` hook, in the same transaction, so that a finding says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from records_service.db import read_scope, session_scope
from records_service.extraction import (
    ExtractionLimits,
    ExtractionPool,
    ExtractionResult,
    ExtractionWorker,
    extract_text,
    one_by_one,
)
from records_service.records.models import TextStatus, Version, VersionText
from records_service.storage import BlobStore, ObjectNotFound, StorageError

log = logging.getLogger(__name__)


# Extracted text held in memory before the outcomes are written (with the default
# limits one document yields at most 2,000,000 characters).
HELD_TEXT_CHARS = 8_000_000


MISSING_REASON = "the content is missing from the store"


@dataclass(frozen=True)
class _Pending:
    """A version whose text has not been extracted yet, and where its bytes are."""

    version_id: int
    key: str
    media_type: str
    record_id: str
    number: int


@dataclass(frozen=True)
class MissingContent:
    """A version whose content object extraction found missing from the store."""

    record_id: str
    number: int
    key: str


# Called in the transaction that records the outcomes, with the versions found missing.
OnMissing = Callable[[Session, list[MissingContent]], None]
_Outcome = tuple[_Pending, ExtractionResult]


def _pending(engine: Engine, limit: int, version_id: int | None = None) -> list[_Pending]:
    with read_scope(engine) as session:
        statement = core_select(
            col(Version.id),
            col(Version.storage_key),
            col(Version.media_type),
            col(Version.record_id),
            col(Version.number),
        ).where(col(Version.text_status) == TextStatus.PENDING.value)
        if version_id is not None:
            statement = statement.where(col(Version.id) == version_id)
        rows = session.execute(statement.order_by(col(Version.id)).limit(limit))
        return [_Pending(*row) for row in rows]


def _extract(
    store: BlobStore,
    item: _Pending,
    limits: ExtractionLimits,
    worker: ExtractionWorker | ExtractionPool | None,
) -> ExtractionResult | None:
    """The extraction's result, or ``None`` when the bytes cannot be read now (a store
    that cannot be reached: tried again later). Missing content is a failure."""
    try:
        # A local store's own read-only file, or a temporary copy from S3.
        with store.as_file(item.key) as path:
            return extract_text(path, item.media_type, limits, worker=worker)
    except ObjectNotFound:
        log.error("cannot extract text of %s: %s", item.key, MISSING_REASON)
        return ExtractionResult(status="failed", text="", reason=MISSING_REASON)
    except StorageError as exc:
        log.warning("cannot read %s for extraction: %s", item.key, exc)
        return None


def _record_outcomes(
    engine: Engine, outcomes: list[_Outcome], on_missing: OnMissing | None = None
) -> None:
    """Write the outcomes in one transaction (one commit, one wait for the write lock).

    A version no longer pending (disposed of, or extracted by another process in the
    meantime) keeps what it has.
    """
    if not outcomes:
        return
    missing: list[MissingContent] = []
    with session_scope(engine) as session:
        ids = [item.version_id for item, _ in outcomes]
        versions = {v.id: v for v in session.exec(select(Version).where(col(Version.id).in_(ids)))}
        for item, result in outcomes:
            version = versions.get(item.version_id)
            if version is None or version.text_status != TextStatus.PENDING.value:
                continue
            version.text_status = result.status
            version.text_reason = result.reason[:500] if result.reason else None
            session.add(version)
            if result.status == TextStatus.EXTRACTED.value:
                session.add(
                    VersionText(version_id=item.version_id, text=result.text, ocr=result.ocr)
                )
            elif result.reason == MISSING_REASON:
                missing.append(MissingContent(item.record_id, item.number, item.key))
        if missing and on_missing is not None:
            on_missing(session, missing)


def extract_version(
    engine: Engine,
    store: BlobStore,
    version_id: int,
    limits: ExtractionLimits,
    worker: ExtractionWorker | ExtractionPool | None = None,
) -> str:
    """Extract one version's text and record the outcome; returns the status.

    Only the outcome is written: reading the version does not take the write lock
    that captures queue for.
    """
    found = _pending(engine, 1, version_id)
    if not found:
        return "skipped"
    result = _extract(store, found[0], limits, worker)
    if result is None:
        return "unavailable"
    _record_outcomes(engine, [(found[0], result)])
    return result.status


def extract_pending(
    engine: Engine,
    store: BlobStore,
    *,
    limit: int = 50,
    limits: ExtractionLimits | None = None,
    worker: ExtractionWorker | ExtractionPool | None = None,
    budget_seconds: float | None = None,
    on_missing: OnMissing | None = None,
) -> int:
    """Extract text for up to ``limit`` pending versions; returns how many were processed.

    ``worker`` is a long-lived extraction worker, or a pool of them that spreads a
    backlog over several processes at once; without one, each document gets its own.
    With ``budget_seconds``, no new document is started once that much time has passed
    (at least one is always done), so the texts reach the index in timely batches. The
    outcomes are written together at the end (or whenever ``HELD_TEXT_CHARS`` of text
    are held): one commit per batch, not per document, since every commit waits for
    the write lock and a log sync that captures queue behind. A crash before the write
    loses only work that is done again. ``on_missing`` is told of content found missing.
    """
    limits = limits or ExtractionLimits()
    started = time.monotonic()

    def more() -> bool:
        return budget_seconds is None or time.monotonic() - started < budget_seconds

    def run(item: _Pending) -> ExtractionResult | None:
        return _extract(store, item, limits, worker)

    items = _pending(engine, limit)
    if isinstance(worker, ExtractionPool):
        results = worker.extract_all(items, run, more=more)
    else:
        results = one_by_one(items, run, more)
    outcomes: list[_Outcome] = []
    held = done = 0
    try:
        for item, result in results:
            done += 1
            if result is None:
                continue
            outcomes.append((item, result))
            held += len(result.text)
            if held >= HELD_TEXT_CHARS:
                _record_outcomes(engine, outcomes, on_missing)
                outcomes, held = [], 0
    finally:  # an item that raised leaves the texts already extracted recorded
        _record_outcomes(engine, outcomes, on_missing)
    return done
