"""The starvation guard of ``records-service worker``: background work kept from the CPU
for too long gets a small but certain share of it until it has caught up.

The worker runs its threads under Linux's idle scheduling policy (SCHED_IDLE), so they
run only on a core that no request-serving process wants. While CPU-bound work keeps
every core busy they hardly run at all, and sidecars, text, index updates and audit
checkpoints would wait for as long as the load lasts. The worker's main thread, which
runs at the normal policy, calls :meth:`StarvationGuard.check` on each of its wakes:
once the background thread's round of steps has lasted ``after_seconds``, the guard
moves the worker's threads to the normal policy at the lowest priority (nice 19); once
that round has ended, it puts them back under SCHED_IDLE.

It moves every thread of the worker and of the processes it started, not the
pipeline's thread alone: the search engine's writer threads and the extraction
process do part of a step's work, and a step that waits for an idle helper is starved
all the same. Back under SCHED_IDLE each thread gets its nice value back where the
process may lower it again, so that a worker stopping later gets the CPU as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from records_service.runtime.background import MonotonicClock, Round

log = logging.getLogger(__name__)

LIFTED_NICE = 19
"""The nice value of a lifted thread: the lowest priority of the normal policy."""


class Watched(Protocol):
    """What the guard reads of the background thread."""

    @property
    def round(self) -> Round | None: ...


def starved(current: Round, now: float, after_seconds: float) -> bool:
    """Whether the round in progress has lasted ``after_seconds`` or more."""
    return now - current.started >= after_seconds


class StarvationGuard:
    """Lifts the worker's threads off SCHED_IDLE while a round of steps is starved.

    ``tasks`` lists the thread ids to move (each call, since threads come and go).
    """

    def __init__(
        self,
        watched: Watched,
        *,
        after_seconds: float,
        tasks: Callable[[], list[int]],
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._watched = watched
        self._after = after_seconds
        self._tasks = tasks
        self._clock = clock
        self.lifted: Round | None = None
        """The starved round whose threads were moved to the normal policy, if any."""
        self._nice: dict[int, int] = {}  # the nice value of each lifted thread before

    def check(self) -> None:
        """Lift the threads once the round has waited too long; lower them once it ended.

        Cheap unless it moves threads: it reads the round and the clock.
        """
        current = self._watched.round
        if self.lifted is not None and current != self.lifted:
            self._lower(self.lifted)
        if current is None or self.lifted is not None:
            return
        if starved(current, self._clock(), self._after):
            self._lift(current)

    def _lift(self, current: Round) -> None:
        # Remembered even when refused, so that an episode is tried and logged once.
        self.lifted = current
        waited = self._clock() - current.started
        self._nice, refusal = lift_off_idle(self._tasks())
        if refusal is not None:
            log.warning(
                "background work has waited %.0f s for the CPU, and its threads may not "
                "leave the idle scheduling policy (%s); grant CAP_SYS_NICE or a RLIMIT_NICE "
                "of at least 1",
                waited,
                refusal,
            )
        elif self._nice:
            log.warning(
                "background work has waited %.0f s for the CPU under the idle scheduling "
                "policy; %d of its threads run on the normal policy at nice %d until it "
                "catches up",
                waited,
                len(self._nice),
                LIFTED_NICE,
            )

    def _lower(self, lifted: Round) -> None:
        self.lifted = None
        back_to_idle(self._tasks(), self._nice)
        self._nice = {}
        log.info(
            "background work caught up %.0f s after its round began; its threads are back "
            "on the idle scheduling policy",
            self._clock() - lifted.started,
        )


def lift_off_idle(tids: Iterable[int]) -> tuple[dict[int, int], OSError | None]:
    """Move those of ``tids`` under SCHED_IDLE to the normal policy at nice 19.

    Returns the nice value each had before, and the first refusal (a task not ours
    to change), if any; a task that has ended meanwhile is passed over.
    """
    before: dict[int, int] = {}
    refusal: OSError | None = None
    for tid in tids:
        try:
            if os.sched_getscheduler(tid) != os.SCHED_IDLE:
                continue
            nice = os.getpriority(os.PRIO_PROCESS, tid)
            # Nice first: an unprivileged task may leave SCHED_IDLE only for a nice value
            # its RLIMIT_NICE allows, and 19 needs the least.
            os.setpriority(os.PRIO_PROCESS, tid, LIFTED_NICE)
            before[tid] = nice
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except ProcessLookupError:
            continue
        except OSError as exc:
            refusal = refusal or exc
    return before, refusal


def back_to_idle(tids: Iterable[int], nice: Mapping[int, int]) -> None:
    """Put ``tids`` under SCHED_IDLE, and back at the ``nice`` value each had if given.

    Anyone may move to SCHED_IDLE. Lowering the nice value again needs CAP_SYS_NICE or
    a RLIMIT_NICE that allows it; without, it stays at 19, which under SCHED_IDLE makes
    no difference until the worker stops (see ``restore_priority``). A task that has
    ended meanwhile is passed over.
    """
    for tid in tids:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            if tid in nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice[tid])


def may_leave_idle() -> bool:
    """Whether a thread of this process, at its nice value, may leave SCHED_IDLE again.

    Linux lets a thread without CAP_SYS_NICE return to the normal policy only at a nice
    value its RLIMIT_NICE allows (20 minus the limit, or above); with the usual limit of
    0, never: the user of a container, for one. Tried on a throwaway thread, which
    inherits the caller's nice value.
    """
    allowed: list[bool] = []

    def attempt() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            allowed.append(False)
        else:
            allowed.append(True)

    probe = threading.Thread(target=attempt, name="idle-policy-probe")
    probe.start()
    probe.join()
    return allowed == [True]


def process_tasks(pid: int) -> list[int]:
    """The thread ids of process ``pid`` and of its descendants, from Linux's /proc."""
    tids: list[int] = []
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return tids
    for thread in threads:
        tids.append(int(thread.name))
        try:
            children = (thread / "children").read_text().split()
        except OSError:
            children = []
        for child in children:
            tids.extend(process_tasks(int(child)))
    return tids


def other_tasks(pid: int, tid: int) -> Callable[[], list[int]]:
    """A ``tasks`` for the guard: every thread of process ``pid`` and of its descendants
    but ``tid`` (the guard's own, which stays on the normal policy)."""
    return lambda: [task for task in process_tasks(pid) if task != tid]
