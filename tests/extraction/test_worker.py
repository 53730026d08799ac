"""The long-lived extraction worker: one process for many documents, replaced on faults.

The fault cases run a small stand-in worker (fault injection) that speaks the same
line protocol; the rest run the real worker.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from records_service.extraction import (
    ExtractionLimits,
    ExtractionResult,
    ExtractionWorker,
    extract_text,
    sniff_path,
)
from records_service.extraction._worker import NICENESS

FAST = ExtractionLimits(max_seconds=0.2)

# Replies like the real worker; the media type picks a fault.
STAND_IN = textwrap.dedent(
    """
    import json, os, signal, sys, time
    for line in sys.stdin:
        request = json.loads(line)
        kind = request["media_type"]
        if kind == "x/hang":
            time.sleep(600)
        if kind == "x/crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "x/raise":
            raise RuntimeError("parser exploded")
        if kind == "x/garbage":
            print("not json", flush=True)
            continue
        reply = {"status": "extracted", "text": str(os.getpid()), "reason": None}
        print(json.dumps(reply), flush=True)
    """
)


@pytest.fixture
def stand_in() -> Iterator[ExtractionWorker]:
    worker = ExtractionWorker(command=[sys.executable, "-c", STAND_IN], grace_seconds=0.5)
    yield worker
    worker.close()


@pytest.fixture
def real() -> Iterator[ExtractionWorker]:
    worker = ExtractionWorker()
    yield worker
    worker.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A killed child is reaped by the worker object; a zombie would still answer.
    return False


def test_one_process_serves_documents_of_every_type(sample: Path, real: ExtractionWorker) -> None:
    assert real.pid is None  # nothing starts until there is work
    for name, phrase in [
        ("victim-services.pdf", "Needs assessment for victim services"),
        ("commissioning-plan.docx", "Domestic abuse helpline"),
        ("helpline-referral.eml", "domestic abuse helpline rose by 12%"),
        ("referrals.csv", "Domestic abuse helpline"),
    ]:
        path = sample / name
        result = extract_text(path, sniff_path(path, name), worker=real)
        assert result.status == "extracted", result.reason
        assert phrase in result.text
    assert real.started == 1


def test_results_equal_those_of_a_one_off_worker(sample: Path, real: ExtractionWorker) -> None:
    for name, media_type in [
        ("encrypted.pdf", "application/pdf"),
        ("no-text.pdf", "application/pdf"),
        ("referrals.csv", "text/csv"),
    ]:
        path = sample / name
        assert extract_text(path, media_type, worker=real) == extract_text(path, media_type)
    limits = ExtractionLimits(max_chars=7)
    assert real.extract(sample / "referrals.csv", "text/csv", limits) == ExtractionResult(
        "extracted", "service", None
    )
    assert real.started == 1


def test_the_worker_runs_at_a_lower_priority(sample: Path, real: ExtractionWorker) -> None:
    real.extract(sample / "referrals.csv", "text/csv", FAST)
    assert real.pid is not None
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, real.pid) == min(mine + NICENESS, 19)


def test_a_hung_worker_is_killed_at_the_hard_bound_and_replaced(
    sample: Path, stand_in: ExtractionWorker
) -> None:
    first = stand_in.extract(sample / "referrals.csv", "text/csv", FAST)
    hung_pid = int(first.text)
    started = time.monotonic()
    result = stand_in.extract(sample / "referrals.csv", "x/hang", FAST)
    elapsed = time.monotonic() - started
    assert result == ExtractionResult(
        "failed", "", "time limit of 0.2 s exceeded; extraction worker stopped"
    )
    assert 0.7 <= elapsed < 5
    assert _gone(hung_pid)
    after = stand_in.extract(sample / "referrals.csv", "text/csv", FAST)
    assert after.status == "extracted" and int(after.text) != hung_pid
    assert stand_in.started == 2


def test_a_crashed_worker_is_reported_and_replaced(
    sample: Path, stand_in: ExtractionWorker
) -> None:
    result = stand_in.extract(sample / "referrals.csv", "x/crash", FAST)
    assert result == ExtractionResult(
        "failed", "", "extraction worker ended unexpectedly (exit code -9)"
    )
    assert stand_in.extract(sample / "referrals.csv", "text/csv", FAST).status == "extracted"
    assert stand_in.started == 2


def test_a_worker_traceback_gives_the_reason(sample: Path, stand_in: ExtractionWorker) -> None:
    result = stand_in.extract(sample / "referrals.csv", "x/raise", FAST)
    assert result.reason == (
        "extraction worker ended unexpectedly (exit code 1): RuntimeError: parser exploded"
    )


def test_a_malformed_reply_stops_the_worker(sample: Path, stand_in: ExtractionWorker) -> None:
    result = stand_in.extract(sample / "referrals.csv", "x/garbage", FAST)
    assert result.status == "failed"
    assert result.reason is not None
    assert result.reason.startswith("extraction worker ended unexpectedly")
    assert stand_in.pid is None
    assert stand_in.extract(sample / "referrals.csv", "text/csv", FAST).status == "extracted"


def test_the_worker_is_replaced_after_max_documents(sample: Path) -> None:
    worker = ExtractionWorker(command=[sys.executable, "-c", STAND_IN], max_documents=2)
    try:
        pids = {worker.extract(sample / "referrals.csv", "text/csv", FAST).text for _ in range(5)}
    finally:
        worker.close()
    assert worker.started == 3
    assert len(pids) == 3


def test_close_ends_the_process(sample: Path, real: ExtractionWorker) -> None:
    real.extract(sample / "referrals.csv", "text/csv", FAST)
    pid = real.pid
    assert pid is not None
    real.close()
    assert real.pid is None
    assert _gone(pid)


def test_a_worker_that_cannot_start_is_a_failure(sample: Path, tmp_path: Path) -> None:
    worker = ExtractionWorker(command=[str(tmp_path / "no-such-python")])
    result = worker.extract(sample / "referrals.csv", "text/csv", FAST)
    assert result.status == "failed"
    assert result.reason is not None
    assert result.reason.startswith("could not start extraction worker (FileNotFoundError")
