"""Waiting for something another thread or process does, with deadlines a loaded machine meets.

A test waits by polling a condition until a deadline, never by sleeping a fixed time.
The deadlines are generous because the suite runs on small shared machines: with a
load average several times the core count, starting a server or extracting and
indexing a few records takes many times longer than on an idle one. They still end a
wait that would otherwise hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable

READY_SECONDS = 120.0  # for background work (extraction, indexing, a timer's first run)
REQUEST_SECONDS = 60.0  # for one HTTP request to a server process the test started
POLL_SECONDS = 0.1


def wait_until(condition: Callable[[], bool], message: str, seconds: float = READY_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail with ``message`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {seconds:g} s)")
        time.sleep(POLL_SECONDS)
