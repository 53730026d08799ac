"""Every limit bounds the work: characters, pages, time and the DOCX zip-bomb guard."""

from __future__ import annotations

import time
from pathlib import Path

import docx
import pytest

from records_service.extraction import ExtractionLimits, ExtractionResult, extract_text
from records_service.extraction._budget import TextBudget
from records_service.extraction.registry import extract_in_process

from .zip_bombs import MIB, write_docx_bomb

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class SteppingClock:
    """A monotonic clock that moves one second every time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.parametrize(
    ("name", "media_type", "expected"),
    [
        ("referrals.csv", "text/csv", "service,provider,quarter"),
        ("victim-services.pdf", "application/pdf", "Office of the Police"),
        ("commissioning-plan.docx", DOCX, "Commissioning plan for"),
        ("helpline-referral.eml", "message/rfc822", "From: Commissioning Te"),
    ],
)
def test_text_stops_at_max_chars(sample: Path, name: str, media_type: str, expected: str) -> None:
    limits = ExtractionLimits(max_chars=len(expected))
    result = extract_in_process(sample / name, media_type, limits)
    assert result == ExtractionResult("extracted", expected, None)


def test_plain_text_reads_only_what_max_chars_needs(tmp_path: Path) -> None:
    # The stray byte at the end is not UTF-8; had it been read, the whole file would
    # have been decoded as Windows-1252 and "é" would have become "Ã©".
    path = tmp_path / "long.txt"
    path.write_bytes("é".encode() * 100_000 + b"\xff")
    result = extract_in_process(path, "text/plain", ExtractionLimits(max_chars=10))
    assert result.text == "é" * 10


def test_plain_text_reads_all_when_it_fits(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_bytes("é".encode() * 5 + b"\xff")
    result = extract_in_process(path, "text/plain", ExtractionLimits(max_chars=20))
    assert result.text == "Ã©" * 5 + "ÿ"


def test_pdf_reads_at_most_max_pages(sample: Path) -> None:
    limits = ExtractionLimits(max_pages=2)
    result = extract_in_process(sample / "three-pages.pdf", "application/pdf", limits)
    assert result.status == "extracted"
    assert "Page two" in result.text
    assert "Page three" not in result.text


def test_pdf_deadline_is_checked_between_pages(sample: Path) -> None:
    # Reading the clock: start (1), before page one (2), after page one (3), before
    # page two (4). With a budget of 2.5 s the second page is never started.
    limits = ExtractionLimits(max_seconds=2.5)
    result = extract_in_process(
        sample / "three-pages.pdf", "application/pdf", limits, clock=SteppingClock()
    )
    assert result == ExtractionResult("failed", "", "time limit of 2.5 s exceeded")


def test_pdf_within_its_deadline_is_complete(sample: Path) -> None:
    limits = ExtractionLimits(max_seconds=100)
    result = extract_in_process(
        sample / "three-pages.pdf", "application/pdf", limits, clock=SteppingClock()
    )
    assert "Page three" in result.text


def test_docx_deadline_is_checked_between_paragraphs(tmp_path: Path) -> None:
    document = docx.Document()
    for number in range(50):
        document.add_paragraph(f"Paragraph {number} on the domestic abuse helpline")
    path = tmp_path / "long.docx"
    document.save(str(path))
    limits = ExtractionLimits(max_seconds=20)
    result = extract_in_process(path, DOCX, limits, clock=SteppingClock())
    assert result == ExtractionResult("failed", "", "time limit of 20 s exceeded")


def test_text_deadline_is_checked_between_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"helpline " * 600_000)  # several read chunks
    limits = ExtractionLimits(max_seconds=2.5)
    result = extract_in_process(path, "text/plain", limits, clock=SteppingClock())
    assert result == ExtractionResult("failed", "", "time limit of 2.5 s exceeded")


def _refused_quickly(path: Path, limits: ExtractionLimits = ExtractionLimits()) -> str:
    started = time.monotonic()
    result = extract_in_process(path, DOCX, limits)
    assert time.monotonic() - started < 1.0
    assert result.status == "failed"
    assert result.reason is not None
    return result.reason


def test_docx_bomb_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    bomb = write_docx_bomb(tmp_path / "bomb.docx", mebibytes=1024)
    assert bomb.stat().st_size < 2 * MIB
    reason = _refused_quickly(bomb)
    assert reason.startswith(f"DOCX expands to {1024 * MIB + 115} bytes, over the limit of")


def test_docx_bomb_over_the_ratio_limit_is_refused(tmp_path: Path) -> None:
    bomb = write_docx_bomb(tmp_path / "bomb.docx", mebibytes=100)
    reason = _refused_quickly(bomb)
    assert reason.startswith("DOCX member 'word/document.xml' has compression ratio")
    assert reason.endswith("over the limit of 200")


def test_docx_member_lying_about_its_size_is_refused(tmp_path: Path) -> None:
    # Declares 4 KiB but inflates to 1 GiB: zipfile alone would allocate the lot.
    bomb = write_docx_bomb(tmp_path / "liar.docx", mebibytes=1024, declared_size=4096)
    reason = _refused_quickly(bomb)
    assert reason == "DOCX member 'word/document.xml' expands beyond its declared size"


def test_docx_bomb_is_refused_through_the_worker(tmp_path: Path) -> None:
    bomb = write_docx_bomb(tmp_path / "bomb.docx", mebibytes=1024)
    result = extract_text(bomb, DOCX)
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("DOCX expands to")


def test_real_docx_over_a_small_size_limit_is_refused(sample: Path) -> None:
    limits = ExtractionLimits(max_uncompressed_bytes=10_000)
    reason = _refused_quickly(sample / "commissioning-plan.docx", limits)
    assert reason.startswith("DOCX expands to") and reason.endswith("over the limit of 10000")


def test_guard_accepts_a_large_ordinary_docx(tmp_path: Path) -> None:
    document = docx.Document()
    for number in range(3000):
        document.add_paragraph(f"Monitoring return line {number}: helpline calls answered.")
    path = tmp_path / "large.docx"
    document.save(str(path))
    result = extract_in_process(path, DOCX, ExtractionLimits())
    assert result.status == "extracted"
    assert "Monitoring return line 2999" in result.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_chars": 0},
        {"max_pages": 0},
        {"max_seconds": 0},
        {"max_uncompressed_bytes": -1},
        {"max_compression_ratio": 0.5},
    ],
)
def test_limits_that_would_stop_everything_are_rejected(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ExtractionLimits(**overrides)  # type: ignore[arg-type]


def test_default_limits() -> None:
    assert ExtractionLimits() == ExtractionLimits(
        max_chars=2_000_000,
        max_pages=2_000,
        max_seconds=30.0,
        max_uncompressed_bytes=200 * MIB,
        max_compression_ratio=200.0,
    )


def test_budget_keeps_text_storable() -> None:
    budget = TextBudget(ExtractionLimits(max_chars=100))
    budget.add("needs\x00 assessment \ud800here")
    assert budget.text() == "needs assessment ?here"
