"""The server's background thread: text extraction and index updates after commit.

Captures call :meth:`BackgroundWorker.notify` after they commit; the worker
also polls, so work left by a crash or another process is picked up. The steps
are plain functions of the services, so the CLI and tests can run them too.

The steps take turns, round robin, in passes. With ``slice_seconds`` each step gets a
time slice per pass: it is called again (one batch per call) until it has no work
left or its slice is spent, then the next step has its turn. A step whose batches are
cheap (sidecars: a few milliseconds each) and one whose batches are dear (text
extraction) then progress at the same share of the thread's time, so a long queue of
one never holds the others back until it has drained: after a bulk import the texts
reach the index while the sidecars are still being written. Each step's own work
stays bounded per call (and, being durable queues, a stop or a kill between calls
loses nothing).

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
        self,
        steps: list[Step],
        *,
        poll_seconds: float,
        clock: MonotonicClock = time.monotonic,
        slice_seconds: float | None = None,
    ) -> None:
        self._steps = steps
        self._poll = poll_seconds
        self._clock = clock
        self._slice = slice_seconds
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
        """Run passes over the steps until none has work left; returns the items processed."""
        total = 0
        while not self._stop.is_set():
            done = sum(self._turn(step) for step in self._steps)
            total += done
            if done == 0:
                break
        return total

    def _turn(self, step: Step) -> int:
        """One step's turn in a pass: one call, or calls until its slice is spent."""
        started = self._clock()
        done = 0
        while not self._stop.is_set():
            handled = step()
            done += handled
            if handled == 0 or self._slice is None or self._clock() - started >= self._slice:
                break
        return done

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
