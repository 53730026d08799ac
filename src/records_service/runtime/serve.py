"""Running the service: HTTP server processes beside one background worker process.

``records-service serve`` prepares the data directory once (migrations, storage, the
search index), then starts ``records-service worker`` as a child process at a lower CPU
priority and runs uvicorn: in this process for one server process, or, for several,
after replacing itself with the lean :mod:`~records_service.runtime.supervisor`. The worker owns all
background work (text extraction, index updates, audit checkpoints, the retention
timer), so none of it competes for a request-serving interpreter. Server processes
do not tell the worker about new work: it watches the audit log's size, which every
capture and edit changes, and starts at once when it moves. On SQLite the worker also
runs the log checkpoints that would otherwise land in a request's commit.

The app itself belongs to the faces above this package: ``serve`` is handed the app
factory (:func:`records_service.app.create_app`, by the ``serve`` command), and
uvicorn's server processes import the factory :data:`SERVER_APP` names.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy import Engine

from records_service.audit.log import log_size
from records_service.cpus import usable_cores
from records_service.db import checkpoint_wal, read_scope
from records_service.runtime.connection_balancer import (
    BalancedConnections,
    ConnectionTable,
)
from records_service.runtime.services import Services
from records_service.runtime.starvation import (
    StarvationGuard,
    may_leave_idle,
    other_tasks,
    process_tasks,
)
from records_service.runtime.supervisor import (
    CONNECTION_TABLE_VARIABLE,
    SERVE_PID_VARIABLE,
    exec_supervisor,
    start_worker_process,
    stop_process,
)
from records_service.settings import Settings, load_settings

log = logging.getLogger(__name__)

SELF_STOP_SECONDS = 10.0
# Wakes (RECORDS_WORKERS__WAKE_SECONDS each) of uninterrupted writes after which the
# worker checkpoints SQLite's log without waiting for a pause.
CHECKPOINT_BUSY_WAKES = 10
# glibc's mallopt parameter for how many heaps (arenas) threads may spread over.
M_ARENA_MAX = -8


class ServeError(Exception):
    """The configuration cannot be served as asked."""


class AppFactory(Protocol):
    """Builds the app of one server process (:func:`records_service.app.create_app`)."""

    def __call__(
        self, settings: Settings, *, background: bool, migrate: bool, checkpoint_wal: bool
    ) -> FastAPI: ...


def server_processes(settings: Settings, requested: int | None) -> int:
    """How many HTTP server processes to run: the option, the setting, or one per core."""
    count = requested if requested is not None else settings.server_processes
    return count if count > 0 else usable_cores()


def serve(
    settings: Settings,
    *,
    create_app: AppFactory,
    host: str,
    port: int,
    processes: int,
    log_level: str,
) -> None:
    """Prepare, start the worker process if configured, and serve until stopped."""
    import uvicorn

    workers = settings.workers
    in_thread = workers.enabled and workers.mode == "thread"
    if in_thread and processes > 1:
        raise ServeError(
            "RECORDS_WORKERS__MODE=thread runs background work inside the server, which "
            "needs one server process: use --processes 1, or the default mode 'process'"
        )
    Services.start(settings).close()  # migrations, storage and index, once, before forking
    if processes > 1:
        exec_supervisor(host=host, port=port, processes=processes, log_level=log_level)
    child = start_worker_process() if workers.enabled and not in_thread else None
    try:
        app = create_app(
            settings, background=in_thread, migrate=False, checkpoint_wal=child is None
        )
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        if child is not None:
            stop_process(child)


def server_app(create_app: AppFactory) -> FastAPI:
    """The app of one server process among several (uvicorn imports :data:`SERVER_APP`,
    which calls this with the app factory).

    uvicorn does not stop its server processes when the ``serve`` process is killed
    outright, so each one stops itself (gracefully, with SIGTERM) when that happens.
    Unless RECORDS_BALANCE_CONNECTIONS is off, each also closes keep-alive connections
    while it holds more than its share (:mod:`records_service.runtime.connection_balancer`).
    """
    # From the environment, not getppid(): serve may be gone before this runs.
    watch_parent(int(os.environ.get(SERVE_PID_VARIABLE, os.getppid())), _stop_self)
    settings = load_settings()
    # Several server processes run only beside serve's worker process (never in
    # thread mode), and that process checkpoints SQLite's log for them.
    app = create_app(
        settings, background=False, migrate=False, checkpoint_wal=not settings.workers.enabled
    )
    table = open_connection_table(os.environ.get(CONNECTION_TABLE_VARIABLE))
    if table is not None:
        app.add_middleware(BalancedConnections, table=table)
    return app


def open_connection_table(path: str | None) -> ConnectionTable | None:
    """This process's view of serve's connection table; ``None`` (no balancing, with a
    warning) if it cannot be opened, rather than a server process that cannot start."""
    if not path:
        return None
    try:
        return ConnectionTable(Path(path))
    except (OSError, RuntimeError) as exc:
        log.warning("connections are not balanced in this process: %s", exc)
        return None


def _stop_self() -> None:
    # A SIGTERM that arrives while uvicorn is still starting can be lost, so ask
    # again each second; a second one makes uvicorn skip the graceful wait.
    deadline = time.monotonic() + SELF_STOP_SECONDS
    while time.monotonic() < deadline:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)
    os._exit(1)


def watch_parent(parent_pid: int, on_gone: Callable[[], None], interval: float = 1.0) -> None:
    """Call ``on_gone`` once, from a daemon thread, when ``parent_pid`` is no longer our parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        log.info("the serving process %d is gone; stopping", parent_pid)
        on_gone()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_worker(services: Services, *, parent_pid: int | None = None) -> None:
    """Run the background work in this process until SIGTERM, SIGINT or the parent's exit.

    The caller lowers the process's priority first (:func:`lower_priority`), before
    it starts the services, so that every thread inherits it; this function puts
    its own, the main thread, back on the normal policy once the work has started.
    """
    settings = services.settings.workers
    stop = threading.Event()

    def stop_soon() -> None:
        # The threads yielded the CPU while working; to stop they must get it back,
        # or a busy machine could keep a SCHED_IDLE worker from ever finishing.
        stop.set()
        restore_priority()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_soon())
    if parent_pid is not None:
        watch_parent(parent_pid, stop_soon)
    services.start_worker()
    normal_policy_for_this_thread()
    changed = activity_probe(services.engine)
    checkpoint = wal_checkpointer(services.engine, busy_limit=CHECKPOINT_BUSY_WAKES)
    guard = starvation_guard(services)
    while not stop.wait(settings.wake_seconds):
        active = changed()
        if active:
            services.notify_worker()
        checkpoint(active)
        if guard is not None:
            guard.check()
    # Again: the signal may have come in the middle of a check that put them back.
    restore_priority()


def starvation_guard(services: Services) -> StarvationGuard | None:
    """The guard that lifts the worker's threads off SCHED_IDLE while they are starved
    (see :mod:`records_service.runtime.starvation`); called from the main thread, which
    it leaves alone. ``None`` when they do not run under SCHED_IDLE."""
    settings = services.settings.workers
    thread = services.worker.thread
    if thread is None or not settings.idle_priority or not hasattr(os, "SCHED_IDLE"):
        return None
    return StarvationGuard(
        thread,
        after_seconds=settings.starvation_seconds,
        tasks=other_tasks(os.getpid(), threading.get_native_id()),
    )


def normal_policy_for_this_thread() -> None:
    """Put the calling thread back on the normal policy (its nice value stays).

    The worker's main thread only probes for activity and checkpoints SQLite's log,
    which the server processes rely on; under SCHED_IDLE a busy machine could keep
    it from ever doing so. The threads that do the heavy steps stay idle.
    """
    if hasattr(os, "SCHED_OTHER"):
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError as exc:
            log.warning("could not restore the normal policy of the main thread: %s", exc)


def share_one_heap() -> None:
    """Make every thread of this process allocate from glibc's one heap
    (``mallopt(M_ARENA_MAX, 1)``); nothing where there is no C library to ask.

    The worker's steps run native code on threads of their own: tantivy starts
    writer threads for each index batch, and each writer takes most of its memory
    budget at once. glibc gives new threads heaps of their own, up to eight per
    core, so what one batch's writer freed sat in one heap while the next writer
    filled another: the worker's RSS crept up by about 10 MiB with each of its first
    rounds of work. With one heap the next writer reuses what the last one freed, and
    the worker's memory stays flat after its first batch (docs/benchmarks.md,
    "Capture targets with tantivy as the default"). Call it before other threads start.
    """
    library = ctypes.util.find_library("c")
    try:
        mallopt = getattr(ctypes.CDLL(library), "mallopt", None) if library else None
    except OSError:
        return
    if mallopt is not None:
        mallopt(M_ARENA_MAX, 1)


def lower_priority(nice: int, *, idle: bool) -> None:
    """Lower this process's CPU priority (its children inherit it).

    Under SCHED_IDLE a process runs only on a core no normal process wants, and a
    waking server process preempts it at once; a nice value alone still lets it
    finish its time slice first. Where the policy is missing, or this process could
    not leave it again (to stop, or when its work is starved), the nice value stays
    alone: a worker stuck under SCHED_IDLE would wait on a busy machine for ever.
    """
    if nice:
        os.nice(nice)
    if not idle or not hasattr(os, "SCHED_IDLE"):
        return
    if not may_leave_idle():
        log.warning(
            "running at nice %d without the idle scheduling policy: this process could "
            "not leave it again; grant CAP_SYS_NICE or a RLIMIT_NICE of at least %d",
            os.nice(0),
            20 - os.nice(0),
        )
        return
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:
        log.warning("could not switch to the idle scheduling policy: %s", exc)


def restore_priority() -> None:
    """Put every thread of this process, and of its child processes, back on the
    normal scheduling policy (the nice value stays).

    Under ``SCHED_IDLE`` a thread runs only on a core nothing else wants, so on a
    machine kept busy it could take minutes to finish its step and stop. A thread
    that has gone meanwhile, or one not ours to change, is passed over.
    """
    if not hasattr(os, "SCHED_OTHER"):
        return
    for tid in process_tasks(os.getpid()):
        try:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            continue


def wal_checkpointer(engine: Engine, *, busy_limit: int) -> Callable[[bool], None]:
    """A step, called once per wake with whether requests wrote since the last one,
    that checkpoints SQLite's log for the server processes.

    A checkpoint copies the log into the database file and syncs both, which slows
    the syncs of captures in flight; so it runs in the first quiet wake after writes,
    or after ``busy_limit`` busy wakes in a row when writes never pause. (Every write
    a request makes is audited, so the audit log's growth is the sign of writes.)
    """
    dirty = True  # whatever was written before this process began to watch
    busy = 0

    def step(active: bool) -> None:
        nonlocal dirty, busy
        if active:
            dirty, busy = True, busy + 1
            if busy < busy_limit:
                return
        elif not dirty:
            return
        dirty, busy = False, 0
        try:
            checkpoint_wal(engine)
        except Exception:
            log.exception("could not checkpoint the database's log; it is tried again")

    return step


def activity_probe(engine: Engine) -> Callable[[], bool]:
    """A check that is true when the audit log grew since it last looked.

    Every capture, new version and metadata edit appends to the log in the same
    transaction, so its size is a cheap sign that background work may be waiting.
    """
    last: list[int] = []

    def changed() -> bool:
        try:
            with read_scope(engine) as session:
                size = log_size(session)
        except Exception:
            log.exception("could not read the audit log's size; polling continues")
            return False
        moved = bool(last) and size != last[0]
        last[:] = [size]
        return moved

    return changed
