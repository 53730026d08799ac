"""The background thread's passes: every step has its turn, for a time slice each.

The steps are stand-ins with queues of known length whose batches move a fake clock
by a known cost, as a cheap sidecar and a dear text extraction do; the passes run in
the test's thread (``run_once``), so the order and the shares are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from records_service.runtime.background import BackgroundWorker

SLICE_SECONDS = 2.0


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Queue:
    """A step over ``items`` queued items, ``batch`` per call, ``cost`` seconds each."""

    name: str
    items: int
    batch: int
    cost: float
    clock: Clock
    calls: list[tuple[str, int, float]]
    done: int = 0
    feeds: Queue | None = None  # a queue whose items this step's items become

    def __call__(self) -> int:
        taken = min(self.batch, self.items)
        self.items -= taken
        self.done += taken
        self.clock.now += taken * self.cost
        if self.feeds is not None:
            self.feeds.items += taken
        if taken:
            self.calls.append((self.name, taken, self.clock.now))
        return taken


@dataclass
class Pipeline:
    """Sidecars (cheap, a long queue), extraction (dear) feeding the index."""

    clock: Clock = field(default_factory=Clock)
    calls: list[tuple[str, int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sidecars = Queue("sidecars", 9000, 50, 0.02, self.clock, self.calls)
        self.index = Queue("index", 0, 50, 0.01, self.clock, self.calls)
        self.extract = Queue("extract", 9000, 5, 0.1, self.clock, self.calls, feeds=self.index)

    def worker(self, slice_seconds: float | None) -> BackgroundWorker:
        steps = [self.sidecars, self.extract, self.index]
        return BackgroundWorker(
            list(steps), poll_seconds=3600, clock=self.clock, slice_seconds=slice_seconds
        )

    def time_spent(self, name: str, until: float) -> float:
        """Seconds of the thread's time ``name`` took before ``until``."""
        spent, last = 0.0, 0.0
        for step, _, ended in self.calls:
            if ended > until:
                break
            if step == name:
                spent += ended - last
            last = ended
        return spent


def test_a_long_cheap_queue_does_not_hold_back_dear_work() -> None:
    # Before slices, each pass gave every step one call: 50 sidecars (1 s) to 5 texts
    # (0.5 s), so the texts took a third of the time until the sidecars had drained.
    pipe = Pipeline()
    pipe.worker(SLICE_SECONDS).run_once()
    assert (pipe.sidecars.items, pipe.extract.items, pipe.index.items) == (0, 0, 0)
    drained = max(ended for step, _, ended in pipe.calls if step == "sidecars")
    extracting = pipe.time_spent("extract", drained)
    writing = pipe.time_spent("sidecars", drained)
    assert extracting >= 0.9 * writing
    # Texts reached the index at the same pace: 20 a pass (4.2 s) against 5 a pass (1.55 s).
    indexed = sum(n for step, n, ended in pipe.calls if step == "index" and ended <= drained)
    assert indexed >= 1500


def test_each_step_has_one_turn_per_pass_in_order() -> None:
    pipe = Pipeline()
    pipe.worker(SLICE_SECONDS).run_once()
    order = [pipe.calls[0][0]]
    for step, _, _ in pipe.calls[1:]:
        if step != order[-1]:
            order.append(step)
    cycle = ["sidecars", "extract", "index"]
    assert order[:9] == cycle * 3


def test_a_turn_ends_with_its_slice_or_its_queue() -> None:
    pipe = Pipeline()
    pipe.worker(SLICE_SECONDS).run_once()
    turns: list[tuple[str, float]] = []
    started = 0.0
    for number, (step, _, ended) in enumerate(pipe.calls):
        following = pipe.calls[number + 1][0] if number + 1 < len(pipe.calls) else None
        if following != step:
            turns.append((step, ended - started))
            started = ended
    longest_batch = {"sidecars": 50 * 0.02, "extract": 5 * 0.1, "index": 50 * 0.01}
    for step, seconds in turns:
        assert seconds < SLICE_SECONDS + longest_batch[step]


def test_without_a_slice_each_step_is_called_once_per_pass() -> None:
    # How the command line and the tests run the steps: one batch each, in order.
    pipe = Pipeline()
    pipe.sidecars.items, pipe.extract.items = 120, 12
    pipe.worker(None).run_once()
    assert [step for step, _, _ in pipe.calls[:3]] == ["sidecars", "extract", "index"]
    assert pipe.calls[:3] == [("sidecars", 50, 1.0), ("extract", 5, 1.5), ("index", 5, 1.55)]
