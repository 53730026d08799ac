"""Fault-injecting extraction jobs for the worker-process tests.

They stand in for a parser that hangs or crashes inside a single call, which no real
sample file can do reliably. They live in a module, not a test, because the worker
imports them by name.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from records_service.extraction import ExtractionLimits, ExtractionResult


def hang_forever(path: Path, media_type: str, limits: ExtractionLimits) -> ExtractionResult:
    """Record the worker's pid in ``path``, then never return."""
    path.write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def die_by_signal(path: Path, media_type: str, limits: ExtractionLimits) -> ExtractionResult:
    """Kill the worker the way the out-of-memory killer would."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def raise_error(path: Path, media_type: str, limits: ExtractionLimits) -> ExtractionResult:
    """Break the never-raises promise, to prove the worker still replies."""
    raise RuntimeError("parser exploded")


def echo_limits(path: Path, media_type: str, limits: ExtractionLimits) -> ExtractionResult:
    """Reply with what the worker received, to prove the arguments cross intact."""
    return ExtractionResult.extracted(f"{path.name}|{media_type}|{limits.max_chars}")
