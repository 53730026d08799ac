"""The running service's parts, built once from settings by the app factory or the CLI.

Nothing here is built at import time. ``Services.start`` connects to the
database (applying migrations), opens the blob store and loads the schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import configure_mappers

from records_service.audit.writer import checkpoint_step
from records_service.auth.failures import flush_closed
from records_service.auth.signin import SignInContext
from records_service.auth.throttle import ThrottlePolicy
from records_service.background import BackgroundWorker
from records_service.clock import Clock, system_clock
from records_service.db import make_engine
from records_service.extraction import ExtractionWorker
from records_service.indexing import SearchIndex
from records_service.migrations import upgrade
from records_service.records.capture import CaptureContext
from records_service.records.sidecars import write_pending_sidecars
from records_service.records.text import extract_pending
from records_service.retention import RetentionSchedule, load_schedule
from records_service.retention.dispositions import DisposalContext
from records_service.retention.holds import HoldContext
from records_service.retention.timer import RetentionTimer, start_retention_timer
from records_service.search.feed import IndexFeed, close_search, open_search
from records_service.settings import Settings
from records_service.storage import BlobStore, build_blob_store

log = logging.getLogger(__name__)

EXTRACTION_BUDGET_SECONDS = 0.25


@dataclass
class Services:
    """Engine, store, schedule and clock shared by routes, pages, jobs and the CLI."""

    settings: Settings
    engine: Engine
    store: BlobStore
    schedule: RetentionSchedule
    clock: Clock = system_clock
    record_types: frozenset[str] = field(default_factory=frozenset)
    worker: BackgroundWorker | None = None
    index: SearchIndex | None = None
    index_feed: IndexFeed | None = None
    retention_timer: RetentionTimer | None = None
    extraction_worker: ExtractionWorker | None = None

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        migrate: bool = True,
        checkpoint_wal: bool = True,
    ) -> Services:
        """Connect everything described by ``settings``.

        ``checkpoint_wal=False`` when a separate worker process checkpoints SQLite's
        log (see :mod:`records_service.db`).
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url, checkpoint_wal=checkpoint_wal)
        if migrate:
            upgrade(engine)
        # Map every table now, not inside the first transaction that touches one: mapping
        # takes a process-wide lock, and a loaded machine made that first write wait on it.
        configure_mappers()
        store = build_blob_store(settings)
        schedule = load_schedule(settings.retention.schedule_file)
        index, index_feed = open_search(settings, engine)
        return cls(
            settings=settings,
            engine=engine,
            store=store,
            schedule=schedule,
            clock=clock,
            record_types=frozenset(schedule.record_types),
            index=index,
            index_feed=index_feed,
        )

    def capture_context(self) -> CaptureContext:
        """What the capture pipeline needs."""
        return CaptureContext(
            engine=self.engine,
            store=self.store,
            clock=self.clock,
            record_types=self.record_types,
            max_upload_bytes=self.settings.max_upload_bytes,
        )

    def hold_context(self) -> HoldContext:
        """What placing and releasing holds needs."""
        return HoldContext(
            engine=self.engine,
            store=self.store,
            clock=self.clock,
            retention_mode=self.settings.storage.retention_mode,
        )

    def disposal_context(self) -> DisposalContext:
        """What deciding and carrying out dispositions needs."""
        return DisposalContext(
            engine=self.engine,
            store=self.store,
            schedule=self.schedule,
            clock=self.clock,
            transfer_dir=self.settings.retention.transfer_dir,
        )

    def sign_in_context(self) -> SignInContext:
        """What checking a web password needs."""
        return SignInContext(
            engine=self.engine,
            policy=ThrottlePolicy.from_settings(self.settings.auth),
            clock=self.clock,
            failure_interval_seconds=self.settings.auth.failure_interval_seconds,
        )

    def flush_auth_failures(self) -> int:
        """Audit the failures counted in closed intervals (see ``auth.failures``)."""
        interval = self.settings.auth.failure_interval_seconds
        return flush_closed(self.engine, interval_seconds=interval, clock=self.clock)

    def background_steps(self, extraction_budget: float | None = None) -> list[Callable[[], int]]:
        """The after-commit work, in order: write sidecars, extract text, update the index,
        audit counted authentication failures, sign a checkpoint."""
        return [
            lambda: write_pending_sidecars(
                self.engine, self.store, mode=self.settings.storage.retention_mode
            ),
            lambda: extract_pending(
                self.engine,
                self.store,
                worker=self.extraction_worker,
                budget_seconds=extraction_budget,
            ),
            lambda: self.index_feed.apply_pending() if self.index_feed else 0,
            self.flush_auth_failures,
            checkpoint_step(self.settings, engine=self.engine, store=self.store, clock=self.clock),
        ]

    def run_background_once(self) -> int:
        """Do all pending after-commit work now, in this thread."""
        return sum(step() for step in self.background_steps())

    def start_worker(self) -> None:
        """Start the background thread (the server does; the CLI and tests may not)."""
        if self.index_feed is not None:
            self.index_feed.rebuild_in_background()
        # One extraction process serves the documents in turn (it starts with the first).
        self.extraction_worker = ExtractionWorker()
        # Each round extracts for at most EXTRACTION_BUDGET_SECONDS before the index
        # takes what is ready in one commit: a burst of captures shares commits (each
        # costs the server tens of milliseconds of Python), while a capture on a quiet
        # service reaches the index at once. The worker loops until no step has work.
        self.worker = BackgroundWorker(
            self.background_steps(extraction_budget=EXTRACTION_BUDGET_SECONDS),
            poll_seconds=self.settings.workers.poll_seconds,
        )
        self.worker.start()
        self.retention_timer = start_retention_timer(
            engine=self.engine,
            store=self.store,
            schedule=self.schedule,
            settings=self.settings,
            clock=self.clock,
        )

    def notify_worker(self) -> None:
        """Tell the background thread there is new work (no-op without one)."""
        if self.worker is not None:
            self.worker.notify()

    def close(self) -> None:
        """Stop the worker and release connections."""
        if self.retention_timer is not None:
            self.retention_timer.stop()
            self.retention_timer = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.extraction_worker is not None:
            self.extraction_worker.close()
            self.extraction_worker = None
        if self.index is not None and self.index_feed is not None:
            close_search(self.index, self.index_feed)
        self.engine.dispose()
