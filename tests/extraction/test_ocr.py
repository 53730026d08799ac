"""OCR of scans the tests make: PDF pages without a text layer and PNG, JPEG and TIFF
images are recognised by Tesseract, within the page and time bounds, and say so."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from records_service.extraction import ExtractionLimits, ExtractionResult, sniff_path
from records_service.extraction._isolation import run_isolated
from records_service.extraction.ocr import TESSERACT_MISSING
from records_service.extraction.registry import extract_in_process
from support.scans import require_tesseract, scan_bytes

PAGE_ONE = ["Helpline monitoring return", "Quarter two referrals 1203"]
PAGE_TWO = ["Safeguarding lead signature"]
PAGE_THREE = ["Restorative justice pathway"]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of scans, made once for the module."""
    require_tesseract()
    folder = tmp_path_factory.mktemp("scans")
    (folder / "scan.pdf").write_bytes(scan_bytes([PAGE_ONE], "PDF"))
    (folder / "scan.png").write_bytes(scan_bytes([PAGE_ONE], "PNG"))
    (folder / "scan.jpg").write_bytes(scan_bytes([PAGE_ONE], "JPEG"))
    (folder / "pages.tiff").write_bytes(scan_bytes([PAGE_ONE, PAGE_TWO, PAGE_THREE], "TIFF"))
    return folder


def _extract(path: Path, limits: ExtractionLimits | None = None) -> ExtractionResult:
    return extract_in_process(path, sniff_path(path, path.name), limits or ExtractionLimits())


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("scan.pdf", "application/pdf"), ("scan.png", "image/png"), ("scan.jpg", "image/jpeg")],
)
def test_a_scan_without_text_is_recognised(scans: Path, name: str, media_type: str) -> None:
    assert sniff_path(scans / name, None) == media_type
    result = _extract(scans / name)
    assert result.status == "extracted", result.reason
    assert result.ocr is True
    assert "Helpline monitoring return" in result.text
    assert "1203" in result.text


def test_every_tiff_frame_is_a_page_up_to_the_ocr_page_limit(scans: Path) -> None:
    everything = _extract(scans / "pages.tiff")
    assert "Restorative justice" in everything.text
    assert everything.text.index("Helpline") < everything.text.index("Restorative")
    bounded = _extract(scans / "pages.tiff", ExtractionLimits(max_ocr_pages=2))
    assert "Safeguarding lead" in bounded.text
    assert "Restorative" not in bounded.text


def test_a_text_layer_is_read_and_only_the_scanned_page_is_recognised(
    scans: Path, sample: Path, tmp_path: Path
) -> None:
    writer = PdfWriter()
    for source in (sample / "victim-services.pdf", scans / "scan.pdf"):
        for page in PdfReader(source).pages:
            writer.add_page(page)
    mixed = tmp_path / "mixed.pdf"
    with mixed.open("wb") as out:
        writer.write(out)
    mixed_text = _extract(mixed, ExtractionLimits(max_ocr_pages=1))
    assert mixed_text.ocr is True
    assert mixed_text.text.index("Needs assessment") < mixed_text.text.index("Helpline monitoring")


def test_with_ocr_off_a_scan_gives_no_text(scans: Path) -> None:
    off = ExtractionLimits(ocr=False)
    assert _extract(scans / "scan.pdf", off) == ExtractionResult("empty", "", None)
    assert _extract(scans / "scan.png", off) == ExtractionResult("empty", "", None)


def test_a_document_with_a_text_layer_is_not_marked_as_ocr(sample: Path) -> None:
    result = _extract(sample / "victim-services.pdf")
    assert result.status == "extracted" and result.ocr is False


def test_missing_tesseract_fails_with_the_reason(
    scans: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The injected fault: a PATH on which no tesseract program can be found.
    monkeypatch.setenv("PATH", str(tmp_path))
    result = _extract(scans / "scan.png")
    assert result == ExtractionResult("failed", "", TESSERACT_MISSING)


def _ticking(step: float) -> Iterator[float]:
    now = 0.0
    while True:
        yield now
        now += step


def test_ocr_stops_at_the_time_limit(scans: Path) -> None:
    # A fake clock: each reading is 4 s after the last, so the 10 s budget runs out
    # between the TIFF's frames, whatever the machine's speed.
    ticks = _ticking(4.0)
    limits = ExtractionLimits(max_seconds=10.0)
    path = scans / "pages.tiff"
    result = extract_in_process(path, "image/tiff", limits, clock=lambda: next(ticks))
    assert result.status == "failed"
    assert result.reason is not None and "time limit of 10 s exceeded" in result.reason


def test_the_ocr_mark_crosses_from_the_worker_process(scans: Path) -> None:
    result = run_isolated(scans / "scan.png", "image/png", ExtractionLimits())
    assert result.status == "extracted" and result.ocr is True
    assert "Helpline monitoring return" in result.text


def test_an_image_too_damaged_to_decode_fails_with_a_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(scan_bytes([PAGE_ONE], "PNG")[:200])
    result = _extract(broken)
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("unreadable image (")


def test_images_are_sniffed_by_their_bytes_not_their_name() -> None:
    from records_service.extraction import sniff_media_type

    png = scan_bytes([PAGE_ONE], "PNG")
    assert sniff_media_type(png[:8192], "notes.txt") == "image/png"
    tiff = scan_bytes([PAGE_ONE], "TIFF")
    assert sniff_media_type(tiff[:8192], None) == "image/tiff"
    jpeg = io.BytesIO(scan_bytes([PAGE_ONE], "JPEG")).read(8192)
    assert sniff_media_type(jpeg, "scan.pdf") == "image/jpeg"
