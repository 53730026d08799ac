"""Several long-lived extraction workers, so that a backlog of documents uses every core.

One :class:`~records_service.extraction._isolation.ExtractionWorker` serves documents
one after another, on one core. After a bulk import thousands of documents wait, and
the server's other core would stay idle. :class:`ExtractionPool` keeps up to ``size``
workers and :meth:`ExtractionPool.extract_all` hands documents to as many at once.

A second worker is an interpreter more (its start costs about ten extractions of CPU,
and it holds memory for as long as it lives), so the pool starts one only for a
backlog: a batch of fewer than ``spread_from`` documents goes to the first worker
alone, as a trickle of captures does.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

from records_service.extraction._isolation import ExtractionWorker
from records_service.extraction.model import ExtractionLimits, ExtractionResult

SPREAD_FROM = 8
"""Documents in one batch from which the pool spreads them over several workers."""

T = TypeVar("T")
R = TypeVar("R")


class ExtractionPool:
    """Up to ``size`` extraction workers, each started when first needed.

    Thread-safe: :meth:`extract` takes a free worker (waiting for one if all are busy).
    """

    def __init__(
        self,
        size: int,
        *,
        command: Sequence[str] | None = None,
        spread_from: int = SPREAD_FROM,
    ) -> None:
        self._members = [ExtractionWorker(command=command) for _ in range(max(1, size))]
        self._spread_from = spread_from
        self._closed = False  # once closed, no further item starts
        # Last in, first out: one caller at a time is always served by the same worker
        # (the first), so the others start only when callers overlap.
        self._free: queue.LifoQueue[ExtractionWorker] = queue.LifoQueue()
        for member in reversed(self._members):
            self._free.put(member)

    @property
    def size(self) -> int:
        """How many workers the pool may run at once."""
        return len(self._members)

    @property
    def started(self) -> int:
        """How many worker processes the pool's workers have started in all."""
        return sum(member.started for member in self._members)

    @property
    def pid(self) -> int | None:
        """The process id of the first worker while it runs."""
        return self._members[0].pid

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers now running."""
        return [pid for member in self._members if (pid := member.pid) is not None]

    def extract(self, path: Path, media_type: str, limits: ExtractionLimits) -> ExtractionResult:
        """Extract in a free worker (see ``ExtractionWorker.extract``). Never raises."""
        member = self._free.get()
        try:
            return member.extract(path, media_type, limits)
        finally:
            self._free.put(member)

    def lanes(self, backlog: int) -> int:
        """How many workers a batch of ``backlog`` documents is spread over."""
        return self.size if backlog >= self._spread_from else 1

    def extract_all(
        self, items: Sequence[T], run: Callable[[T], R], *, more: Callable[[], bool]
    ) -> Iterator[tuple[T, R]]:
        """``run`` each item, on as many threads as :meth:`lanes` gives, yielding each
        item with its result as it completes. ``more`` is asked before each item after
        the first; once it says no, no further item starts (those started finish)."""
        lanes = self.lanes(len(items))

        def open_and_more() -> bool:
            return not self._closed and more()

        if lanes == 1:
            yield from one_by_one(items, run, open_and_more)
            return
        with ThreadPoolExecutor(lanes, thread_name_prefix="records-extract") as threads:
            yield from _spread(threads, lanes, items, run, open_and_more)

    def close(self) -> None:
        """Stop every worker process; a batch still running starts no further item (one
        would start a process again that nothing stops)."""
        self._closed = True
        for member in self._members:
            member.close()


def one_by_one(
    items: Iterable[T], run: Callable[[T], R], more: Callable[[], bool]
) -> Iterator[tuple[T, R]]:
    """``run`` each item in this thread, as :meth:`ExtractionPool.extract_all` does with
    one lane."""
    for number, item in enumerate(items):
        if number and not more():
            return
        yield item, run(item)


def _spread(
    threads: ThreadPoolExecutor,
    lanes: int,
    items: Sequence[T],
    run: Callable[[T], R],
    more: Callable[[], bool],
) -> Iterator[tuple[T, R]]:
    """Keep ``lanes`` items in flight until the items end or ``more`` says no."""
    waiting = iter(items)
    flying: dict[Future[R], T] = {}
    started = 0
    while True:
        while len(flying) < lanes and (started == 0 or more()):
            item = next(waiting, None)
            if item is None:
                break
            flying[threads.submit(run, item)] = item
            started += 1
        if not flying:
            return
        done, _ = wait(flying, return_when=FIRST_COMPLETED)
        for future in done:
            yield flying.pop(future), future.result()
