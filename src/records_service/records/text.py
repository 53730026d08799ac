"""Extracting text from captured versions after commit, so a capture never waits or fails on it.

Versions start with text status ``pending``. :func:`extract_pending` fetches a
batch, runs the extractor for each version's media type on a file with its bytes
(the local store's own file, or a temporary copy from S3: ``BlobStore.as_file``)
and stores the text and status. A failure is recorded as status ``failed`` with
the reason; the record stays findable by its metadata.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import col, select

from records_service.db import read_scope, session_scope
from records_service.extraction import (
    ExtractionLimits,
    ExtractionResult,
    ExtractionWorker,
    extract_text,
)
from records_service.records.models import TextStatus, Version, VersionText
from records_service.storage import BlobStore, StorageError

log = logging.getLogger(__name__)


# Extracted text held in memory before the outcomes are written (with the default
# limits one document yields at most 2,000,000 characters).
HELD_TEXT_CHARS = 8_000_000


@dataclass(frozen=True)
class _Pending:
    """A version whose text has not been extracted yet, and where its bytes are."""

    version_id: int
    key: str
    media_type: str


def _pending(engine: Engine, limit: int, version_id: int | None = None) -> list[_Pending]:
    with read_scope(engine) as session:
        statement = select(Version.id, Version.storage_key, Version.media_type).where(
            Version.text_status == TextStatus.PENDING.value
        )
        if version_id is not None:
            statement = statement.where(Version.id == version_id)
        rows = session.exec(statement.order_by(col(Version.id)).limit(limit))
        return [_Pending(i, key, media) for i, key, media in rows if i is not None]


def _extract(
    store: BlobStore,
    item: _Pending,
    limits: ExtractionLimits,
    worker: ExtractionWorker | None,
) -> ExtractionResult | None:
    """The extraction's result, or ``None`` when the bytes cannot be read now."""
    try:
        # A local store's own read-only file, or a temporary copy from S3.
        with store.as_file(item.key) as path:
            return extract_text(path, item.media_type, limits, worker=worker)
    except StorageError as exc:
        log.warning("cannot read %s for extraction: %s", item.key, exc)
        return None


def _record_outcomes(engine: Engine, outcomes: list[tuple[int, ExtractionResult]]) -> None:
    """Write the outcomes in one transaction (one commit, one wait for the write lock).

    A version no longer pending (disposed of, or extracted by another process in the
    meantime) keeps what it has.
    """
    if not outcomes:
        return
    with session_scope(engine) as session:
        ids = [version_id for version_id, _ in outcomes]
        versions = {v.id: v for v in session.exec(select(Version).where(col(Version.id).in_(ids)))}
        for version_id, result in outcomes:
            version = versions.get(version_id)
            if version is None or version.text_status != TextStatus.PENDING.value:
                continue
            version.text_status = result.status
            version.text_reason = result.reason[:500] if result.reason else None
            session.add(version)
            if result.status == TextStatus.EXTRACTED.value:
                session.add(VersionText(version_id=version_id, text=result.text, ocr=result.ocr))


def extract_version(
    engine: Engine,
    store: BlobStore,
    version_id: int,
    limits: ExtractionLimits,
    worker: ExtractionWorker | None = None,
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
    _record_outcomes(engine, [(version_id, result)])
    return result.status


def extract_pending(
    engine: Engine,
    store: BlobStore,
    *,
    limit: int = 50,
    limits: ExtractionLimits | None = None,
    worker: ExtractionWorker | None = None,
    budget_seconds: float | None = None,
) -> int:
    """Extract text for up to ``limit`` pending versions; returns how many were processed.

    ``worker`` is a long-lived extraction worker; without one, each document gets its own.
    With ``budget_seconds``, no new document is started once that much time has passed
    (at least one is always done), so the texts reach the index in timely batches. The
    outcomes are written together at the end (or whenever ``HELD_TEXT_CHARS`` of text
    are held): one commit per batch, not per document, since every commit waits for
    the write lock and a log sync that captures queue behind. A crash before the write
    loses only work that is done again.
    """
    limits = limits or ExtractionLimits()
    started = time.monotonic()
    outcomes: list[tuple[int, ExtractionResult]] = []
    held = done = 0
    for item in _pending(engine, limit):
        if done and budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            break
        done += 1
        result = _extract(store, item, limits, worker)
        if result is None:
            continue
        outcomes.append((item.version_id, result))
        held += len(result.text)
        if held >= HELD_TEXT_CHARS:
            _record_outcomes(engine, outcomes)
            outcomes, held = [], 0
    _record_outcomes(engine, outcomes)
    return done
