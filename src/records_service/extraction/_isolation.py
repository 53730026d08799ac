"""Runs extractions in separate worker processes that are killed if they overrun.

The extractors check their deadline between pages, paragraphs and chunks, but one call
into a parser (a pathological PDF page) cannot be interrupted from inside. The worker
gives the hard bound: the caller waits ``max_seconds`` plus a grace period for the
reply, then kills the worker. A worker that crashes (a segfault in a C extension, the
out-of-memory killer) also ends as a ``failed`` result instead of taking the server
with it.

A worker is a fresh interpreter (``python -P -m records_service.extraction._worker``)
that shares nothing with the server: no threads or locks duplicated by ``fork``, no
re-import of the server's main module as ``multiprocessing`` would do, no global
start-method state, and no credentials (it gets a minimal environment). Starting one
costs about 0.3 s of CPU, ten times a typical extraction, so:

- ``run_isolated`` starts a worker for one document (the command line, tests);
- ``ExtractionWorker`` keeps one worker serving documents one after another (the
  server's background work), and replaces it after a timeout, a crash, a malformed
  reply, or ``max_documents`` documents, so a parser's leaks cannot build up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from records_service.extraction._budget import describe
from records_service.extraction.model import ExtractionLimits, ExtractionResult

GRACE_SECONDS = 5.0
"""Time past ``max_seconds`` for the worker to start and to report its own deadline."""

_WORKER_MODULE = "records_service.extraction._worker"
# The worker parses untrusted files, so it gets only what an interpreter needs to start,
# not the server's credentials.
_INHERITED_ENV = ("PATH", "PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "TMPDIR", "SYSTEMROOT")
_INHERITED_ENV_PREFIXES = ("LC_", "LANG")
_STATUSES = frozenset({"extracted", "empty", "failed"})


def worker_command() -> list[str]:
    """The command line that starts an extraction worker with this interpreter."""
    # -P keeps the working directory off sys.path, so files there cannot shadow modules.
    return [sys.executable, "-P", "-m", _WORKER_MODULE]


def run_isolated(
    path: Path,
    media_type: str,
    limits: ExtractionLimits,
    *,
    command: Sequence[str] | None = None,
    grace_seconds: float = GRACE_SECONDS,
) -> ExtractionResult:
    """Extract in a worker process; kill it ``grace_seconds`` after ``max_seconds``.

    ``command`` replaces the worker's command line (tests use it to inject faults).
    Never raises.
    """
    request = _request(path, media_type, limits)
    try:
        # The command is this interpreter and a fixed module, never user input.
        completed = subprocess.run(  # noqa: S603
            list(command) if command is not None else worker_command(),
            input=request,
            capture_output=True,
            timeout=limits.max_seconds + grace_seconds,
            check=False,
            env=_worker_environment(),
        )
    except subprocess.TimeoutExpired:
        # run() has already killed and reaped the worker.
        return _overran(limits)
    except (OSError, ValueError) as exc:
        return _not_started(exc)
    return _read_reply(completed)


def _request(path: Path, media_type: str, limits: ExtractionLimits) -> bytes:
    """One request line (without its newline)."""
    fields = {"path": str(path.absolute()), "media_type": media_type}
    return json.dumps({**fields, "limits": dataclasses.asdict(limits)}).encode()


def _overran(limits: ExtractionLimits) -> ExtractionResult:
    return ExtractionResult.failed(
        f"time limit of {limits.max_seconds:g} s exceeded; extraction worker stopped"
    )


def _not_started(exc: Exception) -> ExtractionResult:
    return ExtractionResult.failed(f"could not start extraction worker ({describe(exc)})")


def _ended(returncode: int | None, stderr: bytes) -> ExtractionResult:
    """The failure of a worker that ended without a well-formed reply."""
    last_error = next(
        (line for line in reversed(stderr.decode(errors="replace").splitlines()) if line.strip()),
        "",
    )
    detail = f": {last_error.strip()[:160]}" if last_error else ""
    return ExtractionResult.failed(
        f"extraction worker ended unexpectedly (exit code {returncode}){detail}"
    )


def _worker_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name in _INHERITED_ENV or name.startswith(_INHERITED_ENV_PREFIXES)
    }


def _read_reply(completed: subprocess.CompletedProcess[bytes]) -> ExtractionResult:
    try:
        result = _result_from(json.loads(completed.stdout))
    except ValueError:
        result = None
    return result if result is not None else _ended(completed.returncode, completed.stderr)


def _result_from(reply: Any) -> ExtractionResult | None:
    """The result in a worker's reply, or None if the reply is not well formed."""
    if not isinstance(reply, dict):
        return None
    status, text, reason = reply.get("status"), reply.get("text"), reply.get("reason")
    if status not in _STATUSES or not isinstance(text, str):
        return None
    if not (reason is None or isinstance(reason, str)):
        return None
    ocr = reply.get("ocr", False)
    if not isinstance(ocr, bool):
        return None
    if status == "extracted":
        return ExtractionResult.extracted(text, ocr=ocr)
    if status == "empty":
        return ExtractionResult.empty()
    return ExtractionResult.failed(reason or "extraction failed without a reason")


MAX_DOCUMENTS = 500
"""Documents one long-lived worker serves before it is replaced."""
_STDERR_TAIL = 4096


class ExtractionWorker:
    """One long-lived worker process serving extractions one after another.

    The process starts at the first `extract`, not before. Thread-safe: callers take
    turns. `close` stops the process; a later `extract` starts a new one.
    """

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        grace_seconds: float = GRACE_SECONDS,
        max_documents: int = MAX_DOCUMENTS,
    ) -> None:
        self._command = list(command) if command is not None else worker_command()
        self._grace = grace_seconds
        self._max_documents = max_documents
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._served = 0
        self.started = 0
        """How many worker processes this object has started (for tests and monitoring)."""

    def extract(self, path: Path, media_type: str, limits: ExtractionLimits) -> ExtractionResult:
        """Extract in the worker; kill it ``grace_seconds`` after ``max_seconds``. Never raises."""
        with self._lock:
            try:
                process = self._running()
            except (OSError, ValueError) as exc:
                return _not_started(exc)
            result = self._exchange(process, _request(path, media_type, limits), limits)
            self._served += 1
            if self._served >= self._max_documents:
                self._stop()
            return result

    @property
    def pid(self) -> int | None:
        """The worker process's id while one runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def close(self) -> None:
        """Stop the worker process, if one runs."""
        with self._lock:
            self._stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        # Lives as long as the worker, across calls; closed by _stop.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            # The command is this interpreter and a fixed module, never user input.
            self._process = subprocess.Popen(  # noqa: S603
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=_worker_environment(),
            )
        except BaseException:
            self._stop()
            raise
        self._served = 0
        self.started += 1
        return self._process

    def _exchange(
        self, process: subprocess.Popen[bytes], request: bytes, limits: ExtractionLimits
    ) -> ExtractionResult:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(request + b"\n")
            process.stdin.flush()
            line = _read_line(process.stdout, time.monotonic() + limits.max_seconds + self._grace)
        except OSError:  # the worker is gone: a broken pipe, or its output closed
            line = b""
        if line is None:
            self._stop(kill=True)
            return _overran(limits)
        try:
            result = _result_from(json.loads(line)) if line else None
        except ValueError:
            result = None
        if result is None:
            return self._crashed()
        return result

    def _crashed(self) -> ExtractionResult:
        """Stop the worker that gave no well-formed reply, and say why it failed."""
        process, stderr = self._process, self._stderr
        self._stderr = None  # kept open until read below
        self._stop()
        tail = b""
        if stderr is not None:
            stderr.seek(0, os.SEEK_END)
            stderr.seek(max(0, stderr.tell() - _STDERR_TAIL))
            tail = stderr.read()
            stderr.close()
        return _ended(process.returncode if process is not None else None, tail)

    def _stop(self, *, kill: bool = False) -> None:
        """End the worker: at the end of its input, or killed (at once, or if it lingers)."""
        process, self._process = self._process, None
        if process is not None:
            if kill:
                process.kill()
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _read_line(stream: IO[bytes], deadline: float) -> bytes | None:
    """One line from a worker's output (b"" if it ended first), or None at ``deadline``."""
    fd, line = stream.fileno(), bytearray()
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b""
        line += chunk
    return bytes(line)
