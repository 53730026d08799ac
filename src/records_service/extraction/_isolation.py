"""Runs one extraction in a worker process that is killed if it overruns.

The extractors check their deadline between pages, paragraphs and chunks, but a single
call into a parser (one pathological PDF page) cannot be interrupted from inside. The
worker gives the hard bound: the parent waits ``max_seconds`` plus a grace period for
the reply, then kills the worker. A worker that crashes (a segfault in a C extension,
the out-of-memory killer) also ends as a ``failed`` result instead of taking the
server with it.

Workers are forked from a ``forkserver`` (where the platform has one) that has already
imported the extractors, so a document costs a fork rather than a fresh interpreter,
and no thread of the server is duplicated into the worker. Setting the forkserver's
preload list affects the whole process; this module is its only user.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from records_service.extraction._budget import describe
from records_service.extraction.model import ExtractionLimits, ExtractionResult

Job = Callable[[Path, str, ExtractionLimits], ExtractionResult]

GRACE_SECONDS = 5.0
"""Time past ``max_seconds`` for the worker to report its own deadline before the kill."""

_PRELOAD = ["__main__", "records_service.extraction.registry"]
_EXIT_WAIT_SECONDS = 2.0


def run_isolated(
    job: Job,
    path: Path,
    media_type: str,
    limits: ExtractionLimits,
    *,
    grace_seconds: float = GRACE_SECONDS,
) -> ExtractionResult:
    """Run ``job(path, media_type, limits)`` in a worker; kill it if it overruns.

    ``job`` must be a module-level function (it is pickled by name). Never raises.
    """
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_serve, args=(job, sender, path, media_type, limits), name="text-extraction"
    )
    try:
        process.start()
    except Exception as exc:
        receiver.close()
        return ExtractionResult.failed(f"could not start extraction worker ({describe(exc)})")
    finally:
        sender.close()  # the worker holds its own copy; ours would hide its exit
    try:
        return _await_reply(receiver, process, limits, limits.max_seconds + grace_seconds)
    finally:
        receiver.close()
        _stop(process)


def _await_reply(
    receiver: Connection, process: BaseProcess, limits: ExtractionLimits, timeout: float
) -> ExtractionResult:
    if not receiver.poll(timeout):
        return ExtractionResult.failed(
            f"time limit of {limits.max_seconds:g} s exceeded; extraction worker stopped"
        )
    try:
        reply = receiver.recv()
    except (EOFError, OSError):
        process.join(_EXIT_WAIT_SECONDS)
        return ExtractionResult.failed(
            f"extraction worker ended unexpectedly (exit code {process.exitcode})"
        )
    if not isinstance(reply, ExtractionResult):
        return ExtractionResult.failed("extraction worker sent an unexpected reply")
    return reply


def _stop(process: BaseProcess) -> None:
    process.join(_EXIT_WAIT_SECONDS)
    if process.is_alive():
        process.kill()
        process.join()
    process.close()


def _serve(
    job: Job, sender: Connection, path: Path, media_type: str, limits: ExtractionLimits
) -> None:
    """The worker's entry point: run the job and send back its result."""
    # pypdf logs every repair it makes; the failure reason already says what matters,
    # and the worker's stderr is the server's.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        result = job(path, media_type, limits)
    except BaseException as exc:  # the parent must get a reply, whatever happened
        result = ExtractionResult.failed(f"unexpected error ({describe(exc)})")
    try:
        sender.send(result)
    finally:
        sender.close()


@functools.cache
def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")
