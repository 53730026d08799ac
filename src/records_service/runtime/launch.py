"""Starting ``records-service serve`` as a child process and knowing when it answers.

For programs that drive a real server from outside, such as the test suite and the
benchmarks. The server listens on a free loopback port with the data directory it is
given; its output goes to a log file whose tail explains a server that exits early or
never answers. Readiness is polled (``GET /health`` until it answers 200), never
assumed after a fixed sleep. The start deadline is generous because on a loaded
machine (a load average several times the core count) importing, migrating and opening
the index take tens of seconds; it still bounds a server that hangs. Stopping sends a
signal (SIGTERM unless told otherwise), waits, then kills.

Only the standard library speaks HTTP here, so the module needs nothing beyond the
service's own dependencies.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from records_service.runtime.supervisor import stop_process

START_SECONDS = 120.0
STOP_SECONDS = 30.0
PROBE_SECONDS = 10.0  # one /health request; a loaded machine answers slowly
POLL_SECONDS = 0.1
LOG_TAIL_LINES = 40
PORT_ATTEMPTS = 3  # a free port can be taken by another process before the server binds it
MODULE_COMMAND: tuple[str, ...] = (sys.executable, "-m", "records_service")

# Loopback requests must not go through a proxy named in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerStartError(RuntimeError):
    """The server exited or did not answer in time; the message carries its log's tail."""

    def __init__(self, message: str, served: ServedProcess) -> None:
        super().__init__(message)
        self.served = served  # stopped by the time this is raised


@dataclass(frozen=True)
class ServedProcess:
    """A running ``records-service serve`` child process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process id of ``serve`` (the parent of any server and worker processes)."""
        return self.process.pid

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's output (empty if there is none)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, *, signum: int = signal.SIGTERM, timeout: float = STOP_SECONDS) -> None:
        """Send ``signum``, wait up to ``timeout`` s, then kill. Does nothing once exited."""
        stop_process(self.process, signum=signum, timeout=timeout)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StartOptions(TypedDict, total=False):
    """The keywords of :func:`start_server` (see it for their defaults and meaning)."""

    env: Mapping[str, str] | None
    command: Sequence[str]
    cwd: Path | None
    log_path: Path | None
    start_seconds: float
    port: int | None


def start_server(
    data_dir: Path,
    serve_args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] = MODULE_COMMAND,
    cwd: Path | None = None,
    log_path: Path | None = None,
    start_seconds: float = START_SECONDS,
    port: int | None = None,
) -> ServedProcess:
    """Start ``COMMAND serve --host 127.0.0.1 --port PORT SERVE_ARGS`` and wait until it
    answers ``/health``; stop it and raise :class:`ServerStartError` if it does not.

    The environment is this process's with ``RECORDS_DATA_DIR`` and ``env`` applied. The
    output goes to ``log_path`` (default: ``serve-PORT.log`` in ``data_dir``). ``PORT``
    is ``port`` if given, else a free one. A port found taken when the server binds it
    (another process took it since, or ``port`` was in use) is replaced by a free one
    and the server started again, up to ``PORT_ATTEMPTS`` times in all.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "RECORDS_DATA_DIR": str(data_dir), **(env or {})}
    attempts = PORT_ATTEMPTS
    while True:
        attempts -= 1
        on_port = port or free_port()
        argv = [*command, "serve", "--host", "127.0.0.1", "--port", str(on_port), *serve_args]
        log = log_path or data_dir / f"serve-{on_port}.log"
        try:
            return _start(argv, full_env, cwd, _Place(on_port, data_dir, log), start_seconds)
        except ServerStartError as error:
            if attempts == 0 or not _port_was_taken(error.served):
                raise
        port = None


@dataclass(frozen=True)
class _Place:
    """Where a server is to listen and write its output."""

    port: int
    data_dir: Path
    log_path: Path


def _start(
    argv: list[str], env: dict[str, str], cwd: Path | None, place: _Place, seconds: float
) -> ServedProcess:
    with place.log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (the caller's own command line)
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    served = ServedProcess(process, place.port, place.data_dir, place.log_path)
    try:
        wait_until_answering(served, seconds)
    except BaseException:
        served.stop()  # an interrupted wait must not leave the server behind either
        raise
    return served


def _port_was_taken(served: ServedProcess) -> bool:
    exited = served.process.poll() is not None
    return exited and "address already in use" in served.log_tail().lower()


@contextmanager
def running_server(
    data_dir: Path,
    serve_args: Sequence[str] = (),
    *,
    stop_signal: int = signal.SIGTERM,
    stop_seconds: float = STOP_SECONDS,
    **start: Unpack[StartOptions],
) -> Iterator[ServedProcess]:
    """:func:`start_server` for the length of a ``with`` block, stopped when it ends
    (with ``stop_signal``, waiting up to ``stop_seconds``)."""
    served = start_server(data_dir, serve_args, **start)
    try:
        yield served
    finally:
        served.stop(signum=stop_signal, timeout=stop_seconds)


def wait_until_answering(served: ServedProcess, seconds: float = START_SECONDS) -> None:
    """Poll ``/health`` until it answers 200; raise if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        code = served.process.poll()
        if code is not None:
            reason = f"exited with {code} before answering"
            raise ServerStartError(_failure(served, reason), served)
        remaining = deadline - time.monotonic()
        last = _probe(served.base_url + "/health", max(min(PROBE_SECONDS, remaining), 0.1))
        if last == 200:
            return
        if time.monotonic() >= deadline:
            reason = f"did not answer /health with 200 within {seconds:g} s (last: {last})"
            raise ServerStartError(_failure(served, reason), served)
        time.sleep(POLL_SECONDS)


def _probe(url: str, timeout: float) -> int | str:
    """The status ``url`` answers with, or why no answer came."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()  # an error answer still holds its connection
        return error.code
    except urllib.error.URLError as error:
        return str(error.reason)
    except OSError as error:  # reset or timed out while reading the answer
        return str(error) or type(error).__name__


def _failure(served: ServedProcess, reason: str) -> str:
    return (
        f"records-service serve on port {served.port} {reason}; "
        f"output ({served.log_path}):\n{served.log_tail()}"
    )
