"""The server's background thread: text extraction and index updates after commit.

Captures call :meth:`BackgroundWorker.notify` after they commit; the worker
also polls, so work left by a crash or another process is picked up. The steps
are plain functions of the services, so the CLI and tests can run them too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Step = Callable[[], int]


class BackgroundWorker:
    """Runs ``steps`` until each reports no more work, whenever notified or polled."""

    def __init__(self, steps: list[Step], *, poll_seconds: float) -> None:
        self._steps = steps
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="records-worker", daemon=True)
        self._thread.start()

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
            try:
                self.run_once()
            except Exception:
                log.exception("background step failed; retrying at the next poll")
            self._wake.wait(self._poll)
            self._wake.clear()
