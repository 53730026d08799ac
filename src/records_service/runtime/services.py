"""The services container: the running service's parts, built once from settings by
the app factory or the CLI, and handed to every route, page and command.

Nothing here is built at import time. ``Services.start`` connects to the
database (applying migrations), opens the blob store (and the replica, if one is
configured), loads the schedule and opens
the search index. The container only holds these parts and the contexts the domain
functions take; the background work they feed is :mod:`records_service.runtime.worker`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import configure_mappers

from records_service.auth.signin import SignInContext
from records_service.auth.throttle import ThrottlePolicy
from records_service.clock import Clock, system_clock
from records_service.db import make_engine
from records_service.extraction import ExtractionPool
from records_service.indexing import SearchIndex
from records_service.records.capture import CaptureContext
from records_service.retention import RetentionSchedule, load_schedule
from records_service.retention.dispositions import DisposalContext
from records_service.retention.holds import HoldContext
from records_service.runtime.worker import Worker
from records_service.search.feed import IndexFeed, close_search, open_search
from records_service.settings import Settings
from records_service.storage import BlobStore, build_blob_store, build_replica_store


@dataclass
class Services:
    """Engine, store, schedule and clock shared by routes, pages, jobs and the CLI."""

    settings: Settings
    engine: Engine
    store: BlobStore
    schedule: RetentionSchedule
    clock: Clock = system_clock
    record_types: frozenset[str] = field(default_factory=frozenset)
    index: SearchIndex | None = None
    index_feed: IndexFeed | None = None
    replica: BlobStore | None = None
    worker: Worker = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The pipeline reads the parts from here each time, so a part replaced later
        # (a test's faulty store) is the one it uses.
        self.worker = Worker(self)

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
            # Imported here: Alembic costs every server process about 10 MiB, and only
            # the process that prepares the data directory migrates.
            from records_service.migrations import upgrade

            upgrade(engine)
        # Map every table now, not inside the first transaction that touches one: mapping
        # takes a process-wide lock, and a loaded machine made that first write wait on it.
        configure_mappers()
        store = build_blob_store(settings)
        replica = build_replica_store(settings)
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
            replica=replica,
        )

    def capture_context(self) -> CaptureContext:
        """What the capture pipeline needs."""
        return CaptureContext(
            engine=self.engine,
            store=self.store,
            clock=self.clock,
            record_types=self.record_types,
            max_upload_bytes=self.settings.max_upload_bytes,
            replicate=self.replica is not None,
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
            replicate=self.replica is not None,
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
        """Audit the failures counted in closed intervals now (a step of the worker)."""
        return self.worker.flush_auth_failures()

    def run_background_once(self) -> int:
        """Do all pending after-commit work now, in this thread."""
        return self.worker.run_once()

    def start_worker(self) -> None:
        """Start the background work (the server does; the CLI and tests may not)."""
        self.worker.start()

    def notify_worker(self) -> None:
        """Tell the background thread there is new work (no-op without one)."""
        self.worker.notify()

    @property
    def extraction_worker(self) -> ExtractionPool | None:
        """The extraction processes of the started background work, if any."""
        return self.worker.extraction

    def close(self) -> None:
        """Stop the background work and release connections."""
        self.worker.stop()
        if self.index is not None and self.index_feed is not None:
            close_search(self.index, self.index_feed)
        self.engine.dispose()
