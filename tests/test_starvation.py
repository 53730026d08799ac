"""The starvation guard's decisions, on a real background thread and a clock the test moves.

The thread's round of steps blocks on an event, as a step kept from the CPU would; the
guard moves the real thread between Linux's scheduling policies. The same guard under
real CPU-bound load is in tests/test_serving.py.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from records_service.runtime.background import BackgroundWorker
from records_service.runtime.starvation import LIFTED_NICE, StarvationGuard
from support.waiting import READY_SECONDS, wait_until

AFTER_SECONDS = 30.0


class MonotonicClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pipeline:
    """A background thread whose one step holds each item until the test releases it."""

    clock: MonotonicClock = field(default_factory=MonotonicClock)
    items: list[int] = field(default_factory=list)
    taken: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def step(self) -> int:
        if not self.items:
            return 0
        self.taken.set()
        self.release.wait(READY_SECONDS)
        self.release.clear()
        return self.items.pop()

    def give(self, worker: BackgroundWorker) -> None:
        """Queue an item and wait until the thread holds it."""
        self.taken.clear()
        self.items.append(1)
        worker.notify()
        assert self.taken.wait(READY_SECONDS), "the thread never took the item"


@dataclass
class Watched:
    """The background thread under watch, as its id, and a guard watching it."""

    pipe: Pipeline
    worker: BackgroundWorker
    tid: int
    guard: StarvationGuard


@pytest.fixture
def watched() -> Iterator[Watched]:
    pipe = Pipeline()
    worker = BackgroundWorker([pipe.step], poll_seconds=3600, clock=pipe.clock)
    worker.start()
    tid = worker.native_id
    assert tid is not None
    os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    guard = StarvationGuard(
        worker, after_seconds=AFTER_SECONDS, tasks=lambda: [tid], clock=pipe.clock
    )
    yield Watched(pipe, worker, tid, guard)
    pipe.items.clear()
    pipe.release.set()
    worker.stop()


def _policy(tid: int) -> tuple[int, int]:
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


def test_a_starved_round_runs_at_nice_19_until_it_ends(
    watched: Watched, caplog: pytest.LogCaptureFixture
) -> None:
    pipe, worker, tid, guard = watched.pipe, watched.worker, watched.tid, watched.guard
    caplog.set_level(logging.INFO, logger="records_service.runtime.starvation")
    nice = os.getpriority(os.PRIO_PROCESS, tid)
    pipe.give(worker)
    pipe.clock.now += AFTER_SECONDS - 0.1
    guard.check()
    assert os.sched_getscheduler(tid) == os.SCHED_IDLE, "lifted before its time"
    pipe.clock.now += 0.1
    for _ in range(3):
        guard.check()
    assert _policy(tid) == (os.SCHED_OTHER, LIFTED_NICE)
    lifted = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lifted) == 1, "one warning per episode"
    assert "waited 30 s" in lifted[0].getMessage()
    # The item is done and the round ends: back to the idle policy.
    pipe.release.set()
    wait_until(lambda: worker.round is None, "the round never ended")
    guard.check()
    assert _policy(tid) == (os.SCHED_IDLE, nice)
    assert guard.lifted is None
    assert "caught up" in caplog.records[-1].getMessage()


def test_a_new_round_is_not_the_starved_one(
    watched: Watched, caplog: pytest.LogCaptureFixture
) -> None:
    pipe, worker, tid, guard = watched.pipe, watched.worker, watched.tid, watched.guard
    pipe.give(worker)
    pipe.clock.now += AFTER_SECONDS
    guard.check()
    assert os.sched_getscheduler(tid) == os.SCHED_OTHER
    # The starved round ends and the next one begins before the guard looks again.
    pipe.release.set()
    wait_until(lambda: worker.round is None, "the round never ended")
    pipe.give(worker)
    guard.check()
    assert os.sched_getscheduler(tid) == os.SCHED_IDLE
    # The new round is judged on its own time: lifted 30 s after it began, not before.
    pipe.clock.now += AFTER_SECONDS - 0.1
    guard.check()
    assert os.sched_getscheduler(tid) == os.SCHED_IDLE
    pipe.clock.now += 0.1
    guard.check()
    assert os.sched_getscheduler(tid) == os.SCHED_OTHER
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, "one warning for each episode"


def test_a_thread_not_under_the_idle_policy_is_left_alone(
    watched: Watched,
) -> None:
    # Without RECORDS_WORKERS__IDLE_PRIORITY the threads run at the worker's nice value on
    # the normal policy; moving them to nice 19 would lower them, not lift them.
    pipe, worker, tid, guard = watched.pipe, watched.worker, watched.tid, watched.guard
    os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
    before = os.getpriority(os.PRIO_PROCESS, tid)
    pipe.give(worker)
    pipe.clock.now += AFTER_SECONDS
    guard.check()
    assert _policy(tid) == (os.SCHED_OTHER, before)
