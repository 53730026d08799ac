"""Spreading the leaf recomputation of a verification over processes.

Recomputing leaves is pure Python per entry, so one process uses one core. Ranges
of the log are independent: the calling process scans the first range itself,
feeding the sink as it goes, while worker processes scan the others, each on its
own connection, and hand back their leaf hashes (32 bytes each), which are fed to
the sink afterwards in index order. The sink (the root accumulator) therefore sees
exactly the leaves, in exactly the order, of a single-process scan.

Workers read the same database state as the caller. On PostgreSQL they import the
caller's snapshot (``pg_export_snapshot``). On SQLite a snapshot cannot be shared,
but workers only read indices below the head read in the caller's snapshot, and
those rows are append-only: a worker sees a different row only if someone bypasses
the triggers during the verification, which is tampering the next one reports.

From a single-threaded caller (the ``audit verify`` command) workers are forked,
which costs milliseconds. Forking a process that runs other threads can copy a lock
some thread holds, so a threaded caller gets ``spawn`` workers instead: a fresh
interpreter that imports the caller's main module again, which can take seconds.
Logs under `PARALLEL_MIN_ENTRIES` are scanned in-process either way.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from sqlalchemy import Connection, create_engine

from records_service.audit._leafscan import RangeScan, scan_range
from records_service.audit._snapshot import export_snapshot, snapshot

PARALLEL_MIN_ENTRIES = 50_000
LEAF_SIZE = 32
# The caller also checks the checkpoints while the workers scan, then feeds every
# worker's leaves to the sink, so it takes a smaller share of the entries than each
# worker. Measured on 2 cores at 1,000,000 entries and 10,000 checkpoints: a quarter
# of a worker's share balances the two (see docs/benchmarks.md).
CALLER_SHARE = 0.25
_FEED_BATCH = 10_000

Sink = Callable[[list[bytes]], None]
Progress = Callable[[int], None]


def split(size: int, processes: int) -> list[tuple[int, int]]:
    """Half-open ranges covering [0, size): the caller's first, smaller, then equal ones."""
    if processes <= 1 or size < processes:
        return [(0, size)]
    first = max(1, int(size * CALLER_SHARE / (CALLER_SHARE + processes - 1)))
    rest = size - first
    bounds = [0, first] + [first + rest * k // (processes - 1) for k in range(1, processes)]
    return list(itertools.pairwise(bounds))


class LeafScan:
    """A scan of [0, head) whose worker processes start on entering the context.

    Start it before other slow work (reading and checking checkpoints) so the
    workers run meanwhile; `run` then scans the caller's range and collects theirs.
    """

    def __init__(
        self,
        conn: Connection,
        head: int,
        *,
        processes: int,
        min_entries: int = PARALLEL_MIN_ENTRIES,
    ) -> None:
        self._conn = conn
        self._ranges = split(head, processes if head >= min_entries else 1)
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[tuple[bytes, RangeScan]]] = []

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """The ranges scanned, the caller's first."""
        return list(self._ranges)

    def __enter__(self) -> LeafScan:
        if len(self._ranges) > 1:
            url = self._conn.engine.url.render_as_string(hide_password=False)
            snapshot_id = export_snapshot(self._conn)
            self._pool = ProcessPoolExecutor(
                len(self._ranges) - 1, mp_context=multiprocessing.get_context(_start_method())
            )
            # Objects frozen at a fork are never visited by a forked worker's garbage
            # collector, so it does not copy the caller's memory page by page.
            gc.freeze()
            try:
                self._futures = [
                    self._pool.submit(_scan_in_worker, url, snapshot_id, lo, hi)
                    for lo, hi in self._ranges[1:]
                ]
            finally:
                gc.unfreeze()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, sink: Sink, progress: Progress | None = None) -> RangeScan:
        """Scan every range, feeding ``sink`` all leaves in index order; merge the findings."""
        lo, hi = self._ranges[0]
        total = scan_range(self._conn, lo, hi, sink, progress)
        for future in self._futures:
            leaves, part = future.result()
            for start in range(0, len(leaves), _FEED_BATCH * LEAF_SIZE):
                chunk = leaves[start : start + _FEED_BATCH * LEAF_SIZE]
                sink([chunk[i : i + LEAF_SIZE] for i in range(0, len(chunk), LEAF_SIZE)])
            if progress is not None:
                progress(part.count)
            total.count += part.count
            total.problems.extend(part.problems)
            total.hi = part.hi
        return total


def _start_method() -> str:
    """``fork`` when nothing but this thread runs and the platform has it, else ``spawn``."""
    single = threading.active_count() == 1
    return "fork" if single and "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _scan_in_worker(url: str, snapshot_id: str | None, lo: int, hi: int) -> tuple[bytes, RangeScan]:
    """In a worker process: scan [lo, hi) on a new connection; return the leaves joined."""
    engine = create_engine(url)
    leaves = bytearray()
    try:
        with snapshot(engine, import_id=snapshot_id) as conn:
            found = scan_range(conn, lo, hi, lambda batch: leaves.extend(b"".join(batch)))
    finally:
        engine.dispose()
    return bytes(leaves), found
