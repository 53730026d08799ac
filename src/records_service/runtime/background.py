"""The server's background thread: text extraction and index updates after commit.

Captures call :meth:`BackgroundWorker.notify` after they commit; the worker
also polls, so work left by a crash or another process is picked up. The steps
are plain functions of the services, so the CLI and tests can run them too.

While it works, the thread says since when (:attr:`BackgroundWorker.round`), so that
the starvation guard (:mod:`records_service.runtime.starvation`) can tell a round kept
from the CPU from an idle thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Step = Callable[[], int]
MonotonicClock = Callable[[], float]


@dataclass(frozen=True)
class Round:
    """A round in progress: the steps run until none has work left."""

    number: int
    started: float  # on the worker's monotonic clock


class BackgroundWorker:
    """Runs ``steps`` until each reports no more work, whenever notified or polled."""

    def __init__(
        self, steps: list[Step], *, poll_seconds: float, clock: MonotonicClock = time.monotonic
    ) -> None:
        self._steps = steps
        self._poll = poll_seconds
        self._clock = clock
        self._rounds = 0
        self.round: Round | None = None
        """The round the thread is in; ``None`` while it waits for work."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="records-worker", daemon=True)
        self._thread.start()

    @property
    def native_id(self) -> int | None:
        """The thread's id in the operating system, once it runs."""
        return self._thread.native_id if self._thread is not None else None

    def notify(self) -> None:
        """Ask for a run soon (cheap, never blocks)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current step."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> int:
        """Run every step until none has work left; returns the items processed."""
        total = 0
        while not self._stop.is_set():
            done = sum(step() for step in self._steps)
            total += done
            if done == 0:
                break
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._rounds += 1
            self.round = Round(self._rounds, self._clock())
            try:
                self.run_once()
            except Exception:
                log.exception("background step failed; retrying at the next poll")
            self.round = None
            self._wake.wait(self._poll)
            self._wake.clear()
