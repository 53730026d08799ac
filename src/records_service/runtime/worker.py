"""The background pipeline: the after-commit steps and the threads that run them.

After a capture or an edit commits, the rest of the work happens here, in order:
write the object-lock sidecars of new versions and the notes of disposals,
contracts and holds, copy new objects to the replica
(when one is configured), extract text, update the search index, audit the counted
authentication failures, forget expired idempotency keys, sign an audit checkpoint.
Each step is a plain function that returns how many items it handled, so the CLI and
the tests can run the whole pipeline in their own thread (:meth:`Worker.run_once`).

A server (or ``records-service worker``) starts it with :meth:`Worker.start`: one
:class:`~records_service.runtime.background.BackgroundWorker` thread runs the steps
whenever notified or polled, each step in turn for a time slice of at most
``STEP_SLICE_SECONDS`` (so that a long queue of one, such as the sidecars of a bulk
import, never holds back the texts and the index), a pool of extraction processes
serves the documents (one for a trickle, one per core for a backlog), the retention
timer runs the retention job on its interval, and an index rebuild that start-up
found necessary runs in its own thread.

A new background step goes into :meth:`Worker.steps`.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from records_service.audit.writer import checkpoint_step
from records_service.auth.failures import flush_closed
from records_service.clock import Clock
from records_service.cpus import usable_cores
from records_service.extraction import ExtractionLimits, ExtractionPool
from records_service.notes.queue import write_pending_notes
from records_service.records.capture import CaptureContext
from records_service.records.idempotency import purge_expired
from records_service.records.parts import split_pending
from records_service.records.replica import enqueue_copies, replicate_pending
from records_service.records.sidecars import write_pending_sidecars
from records_service.records.text import MissingContent, extract_pending
from records_service.retention import RetentionSchedule
from records_service.retention.findings import missing_content_findings
from records_service.runtime.background import BackgroundWorker, Step
from records_service.runtime.retention_timer import RetentionTimer, start_retention_timer
from records_service.search.feed import IndexFeed
from records_service.settings import ExtractionSettings, Settings
from records_service.storage import BlobStore

# Each call of the extraction step extracts for at most this long and then writes its
# outcomes in one commit; a capture on a quiet service still reaches the index at once.
EXTRACTION_BUDGET_SECONDS = 0.5
# Each step's turn in a pass of the background thread lasts at most about this long
# (a batch under way finishes). Long enough that a backlog's texts reach the index in
# commits of many documents (each commit costs tens of milliseconds, whatever its size),
# short enough that every step moves every few seconds.
STEP_SLICE_SECONDS = 2.0
# Sidecars per call: each costs a file and a directory sync, so a call stays well
# inside a slice even when the disk is busy.
SIDECAR_BATCH = 50
# Extraction processes for a backlog, at most; one per usable core up to this.
MAX_EXTRACTION_PROCESSES = 4


def extraction_limits(settings: ExtractionSettings) -> ExtractionLimits:
    """The limits each background extraction runs under, from the settings."""
    return ExtractionLimits(
        max_seconds=settings.max_seconds,
        ocr=settings.ocr == "auto",
        ocr_languages=settings.ocr_languages,
        max_ocr_pages=settings.ocr_max_pages,
    )


class Parts(Protocol):
    """What the pipeline reads from the services, each time it runs."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def store(self) -> BlobStore: ...
    @property
    def replica(self) -> BlobStore | None: ...
    @property
    def schedule(self) -> RetentionSchedule: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def index_feed(self) -> IndexFeed | None: ...
    def capture_context(self) -> CaptureContext: ...


class Worker:
    """The background pipeline of one process, and the threads running it once started."""

    def __init__(self, parts: Parts) -> None:
        self._parts = parts
        self.thread: BackgroundWorker | None = None
        self.extraction: ExtractionPool | None = None
        self.retention_timer: RetentionTimer | None = None

    def steps(self, extraction_budget: float | None = None) -> list[Step]:
        """The after-commit work, in order: write sidecars and notes, copy to the replica, capture
        the attachments of e-mail messages, extract text, update the index, audit
        counted authentication failures, forget expired idempotency keys, sign a
        checkpoint."""
        parts = self._parts
        return [
            self.write_sidecars,
            self.write_notes,
            self.copy_to_replica,
            self.split_messages,
            lambda: extract_pending(
                parts.engine,
                parts.store,
                limits=extraction_limits(parts.settings.extraction),
                worker=self.extraction,
                budget_seconds=extraction_budget,
                on_missing=self.report_missing_content,
            ),
            lambda: parts.index_feed.apply_pending() if parts.index_feed else 0,
            self.flush_auth_failures,
            lambda: purge_expired(parts.engine, parts.clock()),
            checkpoint_step(
                parts.settings, engine=parts.engine, store=parts.store, clock=parts.clock
            ),
        ]

    def write_sidecars(self) -> int:
        """Write queued sidecars; with a replica, queue their records for copying."""
        parts = self._parts
        on_written = None
        if parts.replica is not None:
            clock = parts.clock

            def on_written(session: Session, record_ids: list[str]) -> None:
                enqueue_copies(session, record_ids, clock())

        return write_pending_sidecars(
            parts.engine,
            parts.store,
            mode=parts.settings.storage.retention_mode,
            limit=SIDECAR_BATCH,
            on_written=on_written,
        )

    def write_notes(self) -> int:
        """Write the queued disposal, contract and hold notes."""
        parts = self._parts
        return write_pending_notes(
            parts.engine, parts.store, retain_years=parts.settings.audit.retention_years
        )

    def copy_to_replica(self) -> int:
        """Copy queued records' new objects to the replica (purge disposed ones)."""
        parts = self._parts
        if parts.replica is None:
            return 0
        return replicate_pending(parts.engine, parts.store, parts.replica)

    def report_missing_content(self, session: Session, missing: list[MissingContent]) -> None:
        """Content that text extraction found missing is a ``fixity_failure`` finding."""
        missing_content_findings(session, missing, self._parts.clock())

    def split_messages(self) -> int:
        """Capture queued e-mail messages' attachments as records of their own."""
        return split_pending(self._parts.capture_context())

    def flush_auth_failures(self) -> int:
        """Audit the failures counted in closed intervals (see ``auth.failures``)."""
        parts = self._parts
        interval = parts.settings.auth.failure_interval_seconds
        return flush_closed(parts.engine, interval_seconds=interval, clock=parts.clock)

    def run_once(self) -> int:
        """Do all pending after-commit work now, in this thread."""
        return sum(step() for step in self.steps())

    def start(self) -> None:
        """Start the background thread, the extraction process and the retention timer
        (the server does; the CLI and tests may not)."""
        parts = self._parts
        if parts.index_feed is not None:
            parts.index_feed.rebuild_in_background()
        # Extraction processes start when first needed: the first with the first
        # document, the others for a backlog (see ExtractionPool).
        self.extraction = ExtractionPool(min(usable_cores(), MAX_EXTRACTION_PROCESSES))
        # The thread loops until no step has work left, each step in turn for a slice.
        self.thread = BackgroundWorker(
            self.steps(extraction_budget=EXTRACTION_BUDGET_SECONDS),
            poll_seconds=parts.settings.workers.poll_seconds,
            slice_seconds=STEP_SLICE_SECONDS,
        )
        self.thread.start()
        self.retention_timer = start_retention_timer(
            engine=parts.engine,
            store=parts.store,
            schedule=parts.schedule,
            settings=parts.settings,
            clock=parts.clock,
            replica=parts.replica,
        )

    def notify(self) -> None:
        """Tell the background thread there is new work (no-op when not started)."""
        if self.thread is not None:
            self.thread.notify()

    def stop(self) -> None:
        """Stop the timer, the thread (after its current step) and the extraction processes."""
        if self.retention_timer is not None:
            self.retention_timer.stop()
            self.retention_timer = None
        if self.thread is not None:
            self.thread.stop()
            self.thread = None
        if self.extraction is not None:
            self.extraction.close()
            self.extraction = None
