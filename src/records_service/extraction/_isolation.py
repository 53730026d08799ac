"""Runs one extraction in a separate worker process that is killed if it overruns.

The extractors check their deadline between pages, paragraphs and chunks, but one call
into a parser (a pathological PDF page) cannot be interrupted from inside. The worker
gives the hard bound: the caller waits ``max_seconds`` plus a grace period for the
reply, then kills the worker. A worker that crashes (a segfault in a C extension, the
out-of-memory killer) also ends as a ``failed`` result instead of taking the server
with it.

The worker is a fresh interpreter (``python -P -m records_service.extraction._worker``)
that reads one JSON request on stdin and writes one JSON reply on stdout. A fresh
interpreter costs a fraction of a second per document, but it shares nothing with the
server: no threads or locks duplicated by ``fork``, no re-import of the server's main
module as ``multiprocessing`` would do, and no global start-method state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    request = {
        "path": str(path.absolute()),
        "media_type": media_type,
        "limits": dataclasses.asdict(limits),
    }
    try:
        # The command is this interpreter and a fixed module, never user input.
        completed = subprocess.run(  # noqa: S603
            list(command) if command is not None else worker_command(),
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=limits.max_seconds + grace_seconds,
            check=False,
            env=_worker_environment(),
        )
    except subprocess.TimeoutExpired:
        # run() has already killed and reaped the worker.
        return ExtractionResult.failed(
            f"time limit of {limits.max_seconds:g} s exceeded; extraction worker stopped"
        )
    except (OSError, ValueError) as exc:
        return ExtractionResult.failed(f"could not start extraction worker ({describe(exc)})")
    return _read_reply(completed)


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
    if result is not None:
        return result
    last_error = next(
        (
            line
            for line in reversed(completed.stderr.decode(errors="replace").splitlines())
            if line.strip()
        ),
        "",
    )
    detail = f": {last_error.strip()[:160]}" if last_error else ""
    return ExtractionResult.failed(
        f"extraction worker ended unexpectedly (exit code {completed.returncode}){detail}"
    )


def _result_from(reply: Any) -> ExtractionResult | None:
    """The result in a worker's reply, or None if the reply is not well formed."""
    if not isinstance(reply, dict):
        return None
    status, text, reason = reply.get("status"), reply.get("text"), reply.get("reason")
    if status not in _STATUSES or not isinstance(text, str):
        return None
    if not (reason is None or isinstance(reason, str)):
        return None
    if status == "extracted":
        return ExtractionResult.extracted(text)
    if status == "empty":
        return ExtractionResult.empty()
    return ExtractionResult.failed(reason or "extraction failed without a reason")
