"""How far a full rebuild of the search index has got, seen from every process.

A rebuild runs in the worker (at start, after an upgrade or a schema change) or
in ``records-service reindex``; ``/health`` and ``reindex --status`` run in other
processes. So the rebuilding process writes its count to a small JSON file in
the index directory, replaced atomically now and then, and removes it at the
end. A file left by a process that has died is not reported.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

PROGRESS_FILE = "rebuild-progress.json"
WRITE_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class RebuildProgress:
    """A rebuild's count so far, out of the versions it set out to index."""

    pid: int
    done: int
    total: int
    started_at: float
    updated_at: float

    @property
    def percent(self) -> float:
        """Share done, 0 to 100 (a rebuild can index more than it counted at the start)."""
        return 100.0 if self.total <= 0 else min(100.0, 100.0 * self.done / self.total)

    @property
    def per_second(self) -> float:
        """Versions indexed per second so far."""
        elapsed = self.updated_at - self.started_at
        return self.done / elapsed if elapsed > 0 else 0.0

    def summary(self) -> dict[str, float | int]:
        """The figures ``/health`` reports."""
        return {
            "done": self.done,
            "total": self.total,
            "percent": round(self.percent, 1),
            "per_second": round(self.per_second, 1),
        }


def read_progress(index_dir: Path) -> RebuildProgress | None:
    """The running rebuild's progress, or None when no live process is rebuilding."""
    try:
        found = RebuildProgress(**json.loads((index_dir / PROGRESS_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return found if _alive(found.pid) else None


def progress_writer(
    index_dir: Path, total: int
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A callback to report the running count, and one to call when the rebuild ends."""
    started = time.time()
    last = 0.0

    def report(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < WRITE_EVERY_SECONDS and done < total:
            return
        last = now
        _write(index_dir, RebuildProgress(os.getpid(), done, total, started, time.time()))

    def finish() -> None:
        (index_dir / PROGRESS_FILE).unlink(missing_ok=True)

    report(0)
    return report, finish


def _write(index_dir: Path, progress: RebuildProgress) -> None:
    index_dir.mkdir(parents=True, exist_ok=True)
    temporary = index_dir / f".{PROGRESS_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(asdict(progress)))
    temporary.replace(index_dir / PROGRESS_FILE)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
