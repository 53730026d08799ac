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

from sqlalchemy import Engine
from sqlmodel import col, select

from records_service.db import read_scope, session_scope
from records_service.extraction import ExtractionLimits, ExtractionWorker, extract_text
from records_service.records.models import TextStatus, Version, VersionText
from records_service.storage import BlobStore, StorageError

log = logging.getLogger(__name__)


def _pending_ids(engine: Engine, limit: int) -> list[int]:
    with read_scope(engine) as session:
        statement = (
            select(Version.id)
            .where(Version.text_status == TextStatus.PENDING.value)
            .order_by(col(Version.id))
            .limit(limit)
        )
        return [i for i in session.exec(statement) if i is not None]


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
    with read_scope(engine) as session:
        version = session.get(Version, version_id)
        if version is None or version.text_status != TextStatus.PENDING.value:
            return "skipped"
        key, media_type = version.storage_key, version.media_type
    try:
        # A local store's own read-only file, or a temporary copy from S3.
        with store.as_file(key) as path:
            result = extract_text(path, media_type, limits, worker=worker)
    except StorageError as exc:
        log.warning("cannot read %s for extraction: %s", key, exc)
        return "unavailable"
    with session_scope(engine) as session:
        version = session.get(Version, version_id)
        assert version is not None
        version.text_status = result.status
        version.text_reason = result.reason[:500] if result.reason else None
        session.add(version)
        if result.status == TextStatus.EXTRACTED.value:
            session.add(VersionText(version_id=version_id, text=result.text))
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
    (at least one is always done), so the texts reach the index in timely batches.
    """
    limits = limits or ExtractionLimits()
    started = time.monotonic()
    done = 0
    for version_id in _pending_ids(engine, limit):
        if done and budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            break
        extract_version(engine, store, version_id, limits, worker)
        done += 1
    return done
