"""The public entry point end to end: every type through the worker process, and faults."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from records_service.extraction import (
    ExtractionLimits,
    ExtractionResult,
    extract_text,
    sniff_path,
    supported_media_types,
)
from records_service.extraction._isolation import run_isolated, worker_command

FAST = ExtractionLimits(max_seconds=0.2)


@pytest.mark.parametrize(
    ("name", "status", "phrase"),
    [
        ("victim-services.pdf", "extracted", "Needs assessment for victim services"),
        ("commissioning-plan.docx", "extracted", "Domestic abuse helpline"),
        ("helpline-referral.eml", "extracted", "domestic abuse helpline rose by 12%"),
        ("referrals.csv", "extracted", "Domestic abuse helpline"),
        ("service-review.md", "extracted", "needs assessment for victim services"),
        ("no-text.pdf", "empty", ""),
    ],
)
def test_each_type_through_the_worker(sample: Path, name: str, status: str, phrase: str) -> None:
    path = sample / name
    result = extract_text(path, sniff_path(path, name))
    assert result.status == status
    assert result.reason is None
    assert phrase in result.text


@pytest.mark.parametrize(
    ("name", "reason"), [("encrypted.pdf", "encrypted PDF"), ("corrupt.pdf", "malformed PDF (")]
)
def test_failures_cross_the_worker_boundary(sample: Path, name: str, reason: str) -> None:
    result = extract_text(sample / name, "application/pdf")
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith(reason)


def test_supported_media_types() -> None:
    assert supported_media_types() == {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "message/rfc822",
        "text/plain",
        "text/markdown",
        "text/csv",
        "image/png",
        "image/jpeg",
        "image/tiff",
        "application/vnd.ms-outlook",
    }


@pytest.mark.parametrize("media_type", ["application/zip", "application/octet-stream", "image/gif"])
def test_unsupported_type_fails_without_a_worker(sample: Path, media_type: str) -> None:
    started = time.monotonic()
    result = extract_text(sample / "referrals.csv", media_type)
    assert result == ExtractionResult("failed", "", f"no extractor for {media_type}")
    assert time.monotonic() - started < 0.1


def test_media_type_parameters_and_case_are_ignored(sample: Path) -> None:
    result = extract_text(sample / "referrals.csv", "Text/CSV; charset=utf-8")
    assert result.status == "extracted"


def test_missing_file_fails_with_a_reason(tmp_path: Path) -> None:
    result = extract_text(tmp_path / "gone.pdf", "application/pdf")
    assert result.status == "failed"
    assert result.reason is not None and "FileNotFoundError" in result.reason


def test_limits_reach_the_worker(sample: Path) -> None:
    result = extract_text(sample / "referrals.csv", "text/csv", ExtractionLimits(max_chars=7))
    assert result == ExtractionResult("extracted", "service", None)


def test_cooperative_deadline_in_the_worker(sample: Path) -> None:
    limits = ExtractionLimits(max_seconds=1e-6)
    result = extract_text(sample / "three-pages.pdf", "application/pdf", limits)
    assert result == ExtractionResult("failed", "", "time limit of 1e-06 s exceeded")


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def test_hung_worker_is_killed_at_the_hard_bound(sample: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hang = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
    started = time.monotonic()
    result = run_isolated(
        sample / "referrals.csv",
        "text/csv",
        FAST,
        command=_python(hang, str(pid_file)),
        grace_seconds=0.5,
    )
    elapsed = time.monotonic() - started
    assert result == ExtractionResult(
        "failed", "", "time limit of 0.2 s exceeded; extraction worker stopped"
    )
    assert 0.7 <= elapsed < 5
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_worker_killed_by_a_signal_is_reported(sample: Path) -> None:
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = run_isolated(sample / "referrals.csv", "text/csv", FAST, command=_python(crash))
    assert result == ExtractionResult(
        "failed", "", "extraction worker ended unexpectedly (exit code -9)"
    )


def test_worker_traceback_gives_the_reason(sample: Path) -> None:
    boom = "raise RuntimeError('parser exploded')"
    result = run_isolated(sample / "referrals.csv", "text/csv", FAST, command=_python(boom))
    assert result.status == "failed"
    assert result.reason == (
        "extraction worker ended unexpectedly (exit code 1): RuntimeError: parser exploded"
    )


@pytest.mark.parametrize(
    "reply",
    [
        "not json",
        '{"status": "done", "text": "x", "reason": null}',
        '{"status": "extracted", "text": 5, "reason": null}',
        '["extracted", "x", null]',
    ],
)
def test_malformed_reply_is_a_failure(sample: Path, reply: str) -> None:
    command = _python("import sys; sys.stdout.write(sys.argv[1])", reply)
    result = run_isolated(sample / "referrals.csv", "text/csv", FAST, command=command)
    assert result == ExtractionResult(
        "failed", "", "extraction worker ended unexpectedly (exit code 0)"
    )


def test_worker_that_cannot_start_is_a_failure(sample: Path, tmp_path: Path) -> None:
    command = [str(tmp_path / "no-such-python")]
    result = run_isolated(sample / "referrals.csv", "text/csv", FAST, command=command)
    assert result.status == "failed"
    assert result.reason is not None
    assert result.reason.startswith("could not start extraction worker (FileNotFoundError")


def test_worker_ignores_the_working_directory(sample: Path, tmp_path: Path) -> None:
    # A module in the caller's working directory must not shadow the standard library.
    (tmp_path / "json.py").write_text("raise SystemExit('shadowed')\n")
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = run_isolated(sample / "referrals.csv", "text/csv", ExtractionLimits())
    finally:
        os.chdir(previous)
    assert result.status == "extracted"
    assert worker_command()[1] == "-P"


def test_worker_does_not_inherit_server_secrets(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORDS_TEST_SECRET", "s3cr3t")
    reply = (
        "import json, os; json.dump({'status': 'extracted', 'reason': None,"
        " 'text': os.environ.get('RECORDS_TEST_SECRET', 'absent')}, open(1, 'w'))"
    )
    result = run_isolated(sample / "referrals.csv", "text/csv", FAST, command=_python(reply))
    assert result == ExtractionResult("extracted", "absent", None)
