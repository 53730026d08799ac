"""Keeping the index in step with the database: the queue, its lag, and full rebuilds.

The database is the source of truth. Every change that affects search writes
an :class:`~records_service.records.models.IndexTask` in the same transaction
(capture, new version and metadata edits write ``upsert``; disposal writes
``remove``). :class:`IndexFeed` is the single writer inside a process: it reads
a batch of tasks, re-reads the current state of their records, writes it to
the index and only then deletes the tasks it applied. A crash at any point
leaves the tasks in the database, and applying a task twice is harmless, so
nothing acknowledged is lost.

The state in the database decides, not the task's ``op``: a disposed,
transferred or deleted record is removed, any other is re-indexed with every
version. A record with a version whose text is still being extracted is
indexed by its metadata at once, and its task stays queued until the text is
there; it is then indexed again with the text.

A full rebuild (:func:`rebuild_from_database`) leaves the queue alone: tasks
queued before or during it are applied again afterwards, which also covers
changes the rebuild read before they happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, Exists, and_, delete, exists, func, or_
from sqlmodel import Session, col, select

from records_service.db import read_scope, session_scope
from records_service.indexing.base import IndexBusy, IndexDocument, Progress, SearchIndex
from records_service.records.models import IndexTask, Record, TextStatus, Version
from records_service.search.documents import (
    RecordDocuments,
    all_documents,
    count_searchable_versions,
    documents_for,
)
from records_service.search.engine import open_search_index
from records_service.search.progress import progress_writer
from records_service.settings import Settings

log = logging.getLogger(__name__)

BUSY_BACKOFF_SECONDS = 30.0
REBUILD_RETRY_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 60.0


class RebuildCancelled(Exception):
    """The service is shutting down; the half-built generation is discarded."""


@dataclass(frozen=True)
class IndexLag:
    """How far the index is behind the database."""

    pending: int
    oldest_seconds: float | None


def index_lag(session: Session, now: datetime) -> IndexLag:
    """Queued index tasks and the age of the oldest, as of ``now``."""
    count, oldest = session.exec(
        select(func.count(col(IndexTask.id)), func.min(IndexTask.enqueued_at))
    ).one()
    age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
    return IndexLag(pending=int(count), oldest_seconds=age)


def rebuild_from_database(
    engine: Engine,
    index: SearchIndex,
    progress: Progress | None = None,
    *,
    stop: threading.Event | None = None,
    processes: int = 1,
    progress_dir: Path | None = None,
) -> int:
    """Replace the whole index with every version of every searchable record.

    Searches keep answering from the old index until the new one is swapped
    in. Queued tasks are left for the feed to apply afterwards. If ``stop``
    is set, the rebuild ends with :class:`RebuildCancelled` and the old index
    stays live. ``processes`` is passed to `SearchIndex.rebuild`. Returns the
    number of versions indexed. With ``progress_dir``, the count is also written
    there for other processes to read (:mod:`records_service.search.progress`).
    """

    def documents() -> Iterator[IndexDocument]:
        for doc in all_documents(engine):
            if stop is not None and stop.is_set():
                raise RebuildCancelled("the rebuild was cancelled")
            yield doc

    if progress_dir is None:
        return index.rebuild(documents(), progress, processes=processes)
    report, finish = progress_writer(progress_dir, count_searchable_versions(engine))

    def tell(done: int) -> None:
        report(done)
        if progress is not None:
            progress(done)

    try:
        return index.rebuild(documents(), tell, processes=processes)
    finally:
        finish()


def _pending_text() -> Exists:
    return exists().where(
        col(Version.record_id) == col(IndexTask.record_id),
        col(Version.text_status) == TextStatus.PENDING.value,
    )


@dataclass
class _Batch:
    """What one pass read from the queue, grouped by record."""

    task_ids: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    @property
    def all_ids(self) -> list[int]:
        return [i for ids in self.task_ids.values() for i in ids]

    def joined(self, other: _Batch) -> _Batch:
        """Both batches' tasks, grouped by record."""
        both = _Batch()
        for batch in (self, other):
            for record_id, ids in batch.task_ids.items():
                both.task_ids[record_id].extend(ids)
        return both


class IndexFeed:
    """Applies queued index tasks to one index; the process's single index writer."""

    def __init__(
        self,
        engine: Engine,
        index: SearchIndex,
        *,
        batch_size: int = 50,
        progress_dir: Path | None = None,
        busy_backoff: float = BUSY_BACKOFF_SECONDS,
    ) -> None:
        self._engine = engine
        self._index = index
        self._batch_size = batch_size
        self._progress_dir = progress_dir
        self._busy_backoff = busy_backoff
        self._stop = threading.Event()
        self._rebuild_thread: threading.Thread | None = None
        self._threaded_rebuild = False
        self._busy_until = 0.0
        self._next_rebuild = 0.0
        # Tasks already indexed without their text: the highest id, so they are not
        # indexed again on every pass. A record is indexed again when its text arrives.
        self._provisional_upto = 0
        self._broken: set[int] = set()

    @property
    def rebuilding(self) -> bool:
        """Whether a rebuild started by this feed is running."""
        thread = self._rebuild_thread
        return thread is not None and thread.is_alive()

    def rebuild_in_background(self) -> None:
        """Run rebuilds the index needs in their own thread from now on (the server does).

        Without this, :meth:`apply_pending` rebuilds inline (tests, one-off runs).
        """
        self._threaded_rebuild = True

    def apply_pending(self) -> int:
        """Apply one batch of queued tasks; returns how many tasks were applied.

        Rebuilds first if the index needs it. Returns 0 while a rebuild runs,
        and for a while after another process kept the index busy; the tasks
        stay queued.
        """
        if self.rebuilding or self._stop.is_set() or not self._rebuilt_if_needed():
            return 0
        if time.monotonic() < self._busy_until:
            return 0
        try:
            return self._apply_batch()
        except IndexBusy as exc:
            log.info("index busy (%s); queued work is retried later", exc)
            self._busy_until = time.monotonic() + self._busy_backoff
            return 0

    def stop(self) -> None:
        """Stop applying work and cancel a running rebuild (the old index stays live)."""
        self._stop.set()
        thread = self._rebuild_thread
        if thread is not None:
            thread.join(STOP_TIMEOUT_SECONDS)

    # -- rebuilds ------------------------------------------------------------------

    def _rebuilt_if_needed(self) -> bool:
        """True when the index is ready for queued work; may start or run a rebuild."""
        if not self._index.needs_rebuild:
            return True
        if time.monotonic() < self._next_rebuild:
            return False
        if self._threaded_rebuild:
            self._rebuild_thread = threading.Thread(
                target=self._rebuild, name="records-index-rebuild", daemon=True
            )
            self._rebuild_thread.start()
            return False
        return self._rebuild()

    def _rebuild(self) -> bool:
        started = time.monotonic()
        log.info("the search index needs a full rebuild; rebuilding from the database")
        try:
            count = rebuild_from_database(
                self._engine, self._index, stop=self._stop, progress_dir=self._progress_dir
            )
        except RebuildCancelled:
            log.info("index rebuild cancelled; the previous index stays live")
            return False
        except Exception:
            log.exception("index rebuild failed; retrying in %.0f s", REBUILD_RETRY_SECONDS)
            self._next_rebuild = time.monotonic() + REBUILD_RETRY_SECONDS
            return False
        log.info("index rebuilt: %d versions in %.1f s", count, time.monotonic() - started)
        return True

    # -- the queue -----------------------------------------------------------------

    def _read_tasks(self, session: Session, *, waiting: bool) -> _Batch:
        pending = _pending_text()
        if waiting:
            condition = and_(
                col(IndexTask.op) == "upsert", pending, col(IndexTask.id) > self._provisional_upto
            )
        else:
            condition = or_(col(IndexTask.op) == "remove", ~pending)
        statement = select(IndexTask.id, IndexTask.record_id).where(condition)
        if self._broken:
            statement = statement.where(col(IndexTask.id).not_in(self._broken))
        rows = session.exec(statement.order_by(col(IndexTask.id)).limit(self._batch_size))
        batch = _Batch()
        for task_id, record_id in rows:
            if task_id is not None:
                batch.task_ids[record_id].append(task_id)
        return batch

    def _apply_batch(self) -> int:
        """Index the records of ready tasks and, provisionally, of waiting ones, in one
        index commit (each commit costs tens of milliseconds, whatever its size).

        Reading and planning take no write lock (captures queue for it); only the
        removal of the applied tasks writes. Both reads share one snapshot, so a record
        is either ready or waiting, never both.
        """
        with read_scope(self._engine) as session:
            ready = self._read_tasks(session, waiting=False)
            waiting = self._read_tasks(session, waiting=True)
            if not ready.task_ids and not waiting.task_ids:
                return 0
            docs, removed = self._plan(session, ready.joined(waiting))
        self._write(docs, removed)
        if waiting.task_ids:
            self._provisional_upto = max(self._provisional_upto, *waiting.all_ids)
        applied = [i for i in ready.all_ids if i not in self._broken]
        if applied:
            with session_scope(self._engine) as session:
                session.execute(delete(IndexTask).where(col(IndexTask.id).in_(applied)))
        return len(applied)

    def _plan(self, session: Session, batch: _Batch) -> tuple[list[IndexDocument], list[str]]:
        """The documents to write and the record ids to remove, from the records' state now."""
        records = list(session.exec(select(Record).where(col(Record.id).in_(list(batch.task_ids)))))
        try:
            found = documents_for(session, records)
        except ValueError:
            found = self._each_valid(session, records, batch)
        docs = [doc for item in found for doc in item.docs]
        keep = {item.record_id for item in found} | self._broken_records(batch)
        removed = [record_id for record_id in batch.task_ids if record_id not in keep]
        return docs, removed

    def _each_valid(
        self, session: Session, records: list[Record], batch: _Batch
    ) -> list[RecordDocuments]:
        # One bad record must not hold up the rest; its tasks stay queued (and show in
        # the lag reported by /health) but are skipped until the process restarts.
        found: list[RecordDocuments] = []
        for record in records:
            try:
                found.extend(documents_for(session, [record]))
            except ValueError:
                log.exception("record %s cannot be indexed; its task stays queued", record.id)
                self._broken.update(batch.task_ids[record.id])
        return found

    def _broken_records(self, batch: _Batch) -> set[str]:
        return {rid for rid, ids in batch.task_ids.items() if self._broken.intersection(ids)}

    def _write(self, docs: list[IndexDocument], removed: list[str]) -> None:
        if docs:
            self._index.add_or_replace(docs)
        for record_id in removed:
            self._index.remove_record(record_id)


def open_search(settings: Settings, engine: Engine) -> tuple[SearchIndex, IndexFeed]:
    """Open the configured index and the feed that keeps it up to date."""
    index = open_search_index(settings)
    feed = IndexFeed(
        engine, index, batch_size=settings.index.batch_size, progress_dir=settings.index_path
    )
    return index, feed


def close_search(index: SearchIndex, feed: IndexFeed) -> None:
    """Cancel a running rebuild, then release the index.

    Call after the background worker has stopped. If a rebuild does not stop
    in time the index is left open (closing would wait for the rebuild).
    """
    feed.stop()
    if feed.rebuilding:
        log.warning("the index rebuild did not stop in time; leaving the index open")
        return
    index.close()
