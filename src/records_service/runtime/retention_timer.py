"""Running the retention job inside the server on an interval (daily by default).

Owns the timer thread only. The next run is due one interval after the last run
recorded in the audit log (by anyone: a run from the CLI or the API counts), so a
restart does not trigger an extra run and a long outage catches up at once.
Scheduled runs act as ``system``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from records_service.clock import Clock
from records_service.retention.job import last_run_at, run_as_system
from records_service.retention.schedule import RetentionSchedule
from records_service.settings import Settings
from records_service.storage import BlobStore

log = logging.getLogger(__name__)

# After a failed run, try again this much later rather than a whole interval.
RETRY_AFTER = timedelta(minutes=15)


class RetentionTimer:
    """A daemon thread that calls ``run`` whenever ``interval`` has passed since ``last_run``."""

    def __init__(
        self,
        run: Callable[[], object],
        *,
        interval: timedelta,
        last_run: Callable[[], datetime | None],
        clock: Clock,
    ) -> None:
        self._run = run
        self._interval = interval
        self._last_run = last_run
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="retention-timer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop; a run in progress finishes first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def seconds_until_due(self) -> float:
        """How long until the next run is due (0 if overdue or never run)."""
        last = self._last_run()
        if last is None:
            return 0.0
        return max(0.0, (last + self._interval - self._clock()).total_seconds())

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.seconds_until_due()
                if wait == 0.0:
                    self._run()
                    continue
            except Exception:
                log.exception("scheduled retention run failed; retrying later")
                wait = RETRY_AFTER.total_seconds()
            self._stop.wait(min(wait, 3600.0))


def start_retention_timer(
    *,
    engine: Engine,
    store: BlobStore,
    schedule: RetentionSchedule,
    settings: Settings,
    clock: Clock,
    replica: BlobStore | None = None,
) -> RetentionTimer | None:
    """Start the timer described by ``settings.retention`` (``None`` when disabled)."""
    hours = settings.retention.interval_hours
    if hours <= 0:
        return None

    def run() -> None:
        report = run_as_system(engine, store, schedule, settings, clock, replica=replica)
        log.info("scheduled retention run: %s", report.model_dump_json())

    timer = RetentionTimer(
        run, interval=timedelta(hours=hours), last_run=lambda: last_run_at(engine), clock=clock
    )
    timer.start()
    return timer
