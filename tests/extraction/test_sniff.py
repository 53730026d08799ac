"""Sniffing decides the media type from the bytes; the filename only picks a text subtype."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from records_service.extraction import SNIFF_BYTES, sniff_media_type, sniff_path

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("victim-services.pdf", PDF),
        ("encrypted.pdf", PDF),
        ("corrupt.pdf", PDF),
        ("commissioning-plan.docx", DOCX),
        ("helpline-referral.eml", "message/rfc822"),
        ("monitoring-return.eml", "message/rfc822"),
        ("referrals.csv", "text/csv"),
        ("service-review.md", "text/markdown"),
        ("grant-note-cp1252.txt", "text/plain"),
    ],
)
def test_sample_documents_are_recognised(sample: Path, name: str, expected: str) -> None:
    assert sniff_path(sample / name, name) == expected


def test_pdf_named_txt_is_pdf(sample: Path) -> None:
    head = (sample / "victim-services.pdf").read_bytes()[:SNIFF_BYTES]
    assert sniff_media_type(head, "minutes.txt") == PDF


def test_text_named_pdf_is_text(sample: Path) -> None:
    head = (sample / "service-review.md").read_bytes()
    assert sniff_media_type(head, "review.pdf") == "text/plain"


def test_docx_named_csv_is_docx(sample: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "upload"
    disguised.write_bytes((sample / "commissioning-plan.docx").read_bytes())
    assert sniff_path(disguised, "figures.csv") == DOCX


def test_docx_is_recognised_from_its_head_alone(sample: Path) -> None:
    head = (sample / "commissioning-plan.docx").read_bytes()[:SNIFF_BYTES]
    assert sniff_media_type(head, None) == DOCX


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("notes.CSV", "text/csv"),
        ("notes.md", "text/markdown"),
        ("notes.markdown", "text/markdown"),
        ("notes.txt", "text/plain"),
        ("notes", "text/plain"),
        (None, "text/plain"),
    ],
)
def test_extension_picks_the_text_subtype(filename: str | None, expected: str) -> None:
    assert sniff_media_type(b"service,provider\nhelpline,Safe Lives\n", filename) == expected


def _zip_with(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return out.getvalue()


def test_other_zip_is_zip_even_when_named_docx(tmp_path: Path) -> None:
    path = tmp_path / "a.docx"
    path.write_bytes(_zip_with(["mimetype", "content.xml"]))
    assert sniff_media_type(path.read_bytes(), "a.docx") == "application/zip"
    assert sniff_path(path, "a.docx") == "application/zip"


def test_sniff_path_finds_docx_part_beyond_the_head(tmp_path: Path) -> None:
    padding = [f"customXml/item{index}.xml" for index in range(400)]
    path = tmp_path / "late.docx"
    path.write_bytes(_zip_with([*padding, "word/document.xml"]))
    assert sniff_media_type(path.read_bytes()[:SNIFF_BYTES], None) == "application/zip"
    assert sniff_path(path, None) == DOCX


def test_truncated_docx_keeps_the_docx_verdict(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.docx"
    path.write_bytes((sample / "commissioning-plan.docx").read_bytes()[:SNIFF_BYTES])
    assert sniff_path(path, "cut.docx") == DOCX


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        # An OLE compound file: a legacy .doc, or an Outlook message by its stream names.
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "application/x-ole-storage"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "__substg1.0_0037001F".encode("utf-16-le"),
            "application/vnd.ms-outlook",
        ),
    ],
)
def test_images_and_ole_files_are_told_by_their_magic(head: bytes, media_type: str) -> None:
    assert sniff_media_type(head, "notes.txt") == media_type


@pytest.mark.parametrize(
    "head",
    [
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00",  # an image without OCR support
        bytes(range(1, 32)) * 40,  # control characters but no NUL
        "hello".encode("utf-16"),
    ],
)
def test_binary_is_octet_stream(head: bytes) -> None:
    assert sniff_media_type(head, "notes.txt") == "application/octet-stream"


def test_pdf_header_after_leading_junk_is_pdf() -> None:
    assert sniff_media_type(b"\r\n\r\n%PDF-1.7\n...", None) == PDF


def test_windows_1252_text_is_text() -> None:
    head = "Grant of \u00a312,500 \u201cagreed\u201d\n".encode("cp1252")
    assert sniff_media_type(head, "grant.txt") == "text/plain"


def test_utf8_cut_mid_character_is_still_text() -> None:
    head = ("Caf\u00e9 " * 2000).encode()[: SNIFF_BYTES - 1]
    assert sniff_media_type(head, None) == "text/plain"


def test_empty_file_counts_as_text() -> None:
    assert sniff_media_type(b"", "empty.csv") == "text/csv"


def test_email_headers_win_over_the_extension() -> None:
    head = b"From: a@opcc.example\nSubject: Helpline\nDate: Mon, 1 Apr 2024 09:00:00 +0100\n\nHi\n"
    assert sniff_media_type(head, "message.txt") == "message/rfc822"


def test_mbox_separator_line_is_accepted() -> None:
    head = b"From a@opcc.example Mon Apr  1 09:00:00 2024\nFrom: a@opcc.example\nTo: b@x\n\nHi\n"
    assert sniff_media_type(head, None) == "message/rfc822"


@pytest.mark.parametrize(
    "head",
    [
        b"title: Victim services\nauthor: OPCC\n\nBody\n",  # key-value lines, not mail fields
        b"From: the commissioning team\nNotes about the helpline\n",  # prose after one header
        b"Subject: helpline\n\nOnly one mail field.\n",
        b" From: a@x\nTo: b@x\n\nindented first line\n",
    ],
)
def test_text_that_only_resembles_headers_is_not_email(head: bytes) -> None:
    assert sniff_media_type(head, "notes.md") == "text/markdown"
