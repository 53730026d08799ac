"""The running service's parts, built once from settings by the app factory or the CLI.

Nothing here is built at import time. ``Services.start`` connects to the
database (applying migrations), opens the blob store and loads the schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from records_service.background import BackgroundWorker
from records_service.clock import Clock, system_clock
from records_service.db import make_engine
from records_service.migrations import upgrade
from records_service.records.capture import CaptureContext
from records_service.records.text import extract_pending
from records_service.retention import RetentionSchedule, load_schedule
from records_service.settings import Settings
from records_service.storage import BlobStore, build_blob_store

log = logging.getLogger(__name__)


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

    @classmethod
    def start(
        cls, settings: Settings, *, clock: Clock = system_clock, migrate: bool = True
    ) -> Services:
        """Connect everything described by ``settings``."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if migrate:
            upgrade(engine)
        store = build_blob_store(settings)
        schedule = load_schedule(settings.retention.schedule_file)
        return cls(
            settings=settings,
            engine=engine,
            store=store,
            schedule=schedule,
            clock=clock,
            record_types=frozenset(schedule.record_types),
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

    def background_steps(self) -> list[Callable[[], int]]:
        """The after-commit work, in order: extract text, then update the index."""
        return [lambda: extract_pending(self.engine, self.store)]

    def run_background_once(self) -> int:
        """Do all pending after-commit work now, in this thread."""
        return sum(step() for step in self.background_steps())

    def start_worker(self) -> None:
        """Start the background thread (the server does; the CLI and tests may not)."""
        self.worker = BackgroundWorker(
            self.background_steps(), poll_seconds=self.settings.workers.poll_seconds
        )
        self.worker.start()

    def notify_worker(self) -> None:
        """Tell the background thread there is new work (no-op without one)."""
        if self.worker is not None:
            self.worker.notify()

    def close(self) -> None:
        """Stop the worker and release connections."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.engine.dispose()
