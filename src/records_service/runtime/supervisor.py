"""The ``serve`` process once the data directory is ready: uvicorn's supervisor of the
server processes, and the parent of the background worker.

``records-service serve`` prepares the data directory (migrations, storage, the index)
with the whole service imported, then, to run several server processes, replaces
itself with this module (:func:`exec_supervisor`: the same process id, so its children
and whoever started it still know it). This module imports only uvicorn and the
settings, so the process that only watches its children holds about 40 MiB of
memory instead of the 140 MiB of a process that has imported everything.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from records_service.runtime.connection_balancer import create_table
from records_service.settings import Settings, load_settings

log = logging.getLogger(__name__)

WORKER_STOP_SECONDS = 30.0
# How long uvicorn waits for a server process to answer its health check before it
# kills the process as hung and starts another, logging "Child process [N] died".
# Its default (5 s) is shorter than a server process's start (a fresh interpreter that
# imports the app and opens the database and index) on a busy machine, so starting
# processes were killed and restarted in a loop. A hung process is still replaced.
HEALTHCHECK_SECONDS = 60
SERVE_PID_VARIABLE = "_RECORDS_SERVE_PID"  # tells server processes whose children they are
CONNECTION_TABLE_VARIABLE = "_RECORDS_CONNECTION_TABLE"  # where they share connection counts
# The factory each of several server processes imports: server_app with create_app.
SERVER_APP = "records_service.app:server_app"
MODULE = "records_service.runtime.supervisor"


def exec_supervisor(*, host: str, port: int, processes: int, log_level: str) -> None:
    """Replace this process with the supervisor of ``processes`` server processes."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    arguments = ["--host", host, "--port", str(port), "--processes", str(processes)]
    command = [sys.executable, "-m", MODULE, *arguments, "--log-level", log_level]
    os.execv(sys.executable, command)  # noqa: S606 (our own interpreter and module)


def supervise(settings: Settings, *, host: str, port: int, processes: int, log_level: str) -> None:
    """Start the worker process if configured, then serve with ``processes`` server
    processes until stopped; the worker is stopped last."""
    import uvicorn

    child = start_worker_process() if settings.workers.enabled else None
    os.environ[SERVE_PID_VARIABLE] = str(os.getpid())
    table = _connection_table(settings)
    try:
        uvicorn.run(
            SERVER_APP,
            factory=True,
            workers=processes,
            host=host,
            port=port,
            log_level=log_level,
            timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
        )
    finally:
        if table is not None:
            table.unlink(missing_ok=True)
        if child is not None:
            stop_process(child)


def _connection_table(settings: Settings) -> Path | None:
    """Create the table the server processes share their connection counts in, and tell
    them where it is; ``None`` when balancing is off."""
    if not settings.balance_connections:
        os.environ.pop(CONNECTION_TABLE_VARIABLE, None)
        return None
    path = settings.data_dir / "run" / f"connections-{os.getpid()}"
    create_table(path)
    os.environ[CONNECTION_TABLE_VARIABLE] = str(path)
    return path


def start_worker_process() -> subprocess.Popen[bytes]:
    """Start ``records-service worker`` for this process; it exits if this process dies."""
    command = [sys.executable, "-m", "records_service", "worker", "--parent-pid", str(os.getpid())]
    return subprocess.Popen(command)  # noqa: S603 (our own interpreter and module)


def stop_process(
    child: subprocess.Popen[bytes],
    *,
    signum: int = signal.SIGTERM,
    timeout: float = WORKER_STOP_SECONDS,
) -> None:
    """Ask ``child`` to stop with ``signum``; kill it if it has not after ``timeout`` s.

    For the worker, SIGTERM lets it finish its current step first.
    """
    if child.poll() is not None:
        return
    child.send_signal(signum)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("process %d did not stop in %.0f s; killing it", child.pid, timeout)
        child.kill()
        child.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Run as ``python -m records_service.runtime.supervisor`` (by :func:`exec_supervisor`)."""
    parser = argparse.ArgumentParser(prog=MODULE, description=main.__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    supervise(
        load_settings(),
        host=args.host,
        port=args.port,
        processes=args.processes,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
