"""Each extractor on the committed sample documents.

These run the extractors in the test process (the registry's in-process entry), which
keeps them fast; test_extract_text.py covers the same types through the worker process.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from records_service.extraction import ExtractionLimits, ExtractionResult, sniff_path
from records_service.extraction.registry import extract_in_process

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _extract(path: Path) -> ExtractionResult:
    return extract_in_process(path, sniff_path(path, path.name), ExtractionLimits())


def test_pdf_text_is_extracted(sample: Path) -> None:
    result = _extract(sample / "victim-services.pdf")
    assert result.status == "extracted"
    assert result.reason is None
    assert "Needs assessment for victim services" in result.text
    assert "domestic abuse helpline answered 4,812 calls" in result.text


def test_pdf_pages_come_in_order(sample: Path) -> None:
    text = _extract(sample / "three-pages.pdf").text
    assert text.index("Page one") < text.index("Page two") < text.index("Page three")


def test_pdf_without_text_is_empty(sample: Path) -> None:
    assert _extract(sample / "no-text.pdf") == ExtractionResult("empty", "", None)


def test_pdf_needing_a_password_fails(sample: Path) -> None:
    assert _extract(sample / "encrypted.pdf") == ExtractionResult("failed", "", "encrypted PDF")


def test_pdf_with_only_an_owner_password_is_read_like_a_viewer_would(sample: Path) -> None:
    result = _extract(sample / "owner-locked.pdf")
    assert result.status == "extracted"
    assert "Needs assessment for victim services" in result.text


def test_corrupt_pdf_fails_with_a_reason(sample: Path) -> None:
    result = _extract(sample / "corrupt.pdf")
    assert result.status == "failed"
    assert result.text == ""
    assert result.reason is not None and result.reason.startswith("malformed PDF (")


def test_docx_paragraphs_and_table_cells_are_extracted(sample: Path) -> None:
    result = _extract(sample / "commissioning-plan.docx")
    assert result.status == "extracted"
    lines = result.text.splitlines()
    assert "This plan follows the needs assessment for victim services." in lines
    assert "Domestic abuse helpline" in lines  # a table cell
    assert "£180,000" in lines


def test_docx_keeps_document_order_and_reads_a_merged_cell_once(sample: Path) -> None:
    text = _extract(sample / "commissioning-plan.docx").text
    assert text.index("follows the needs") < text.index("Domestic abuse") < text.index("July")
    assert text.count("Restorative justice pathway, jointly funded") == 1


def test_docx_nested_table_is_read(tmp_path: Path) -> None:
    document = docx.Document()
    outer = document.add_table(rows=1, cols=1)
    inner = outer.cell(0, 0).add_table(rows=1, cols=1)
    inner.cell(0, 0).text = "Nested: independent sexual violence advisers"
    path = tmp_path / "nested.docx"
    document.save(str(path))
    assert "Nested: independent sexual violence advisers" in _extract(path).text


def test_docx_without_text_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.docx"
    docx.Document().save(str(path))
    assert _extract(path).status == "empty"


def test_corrupt_docx_fails_with_a_reason(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.docx"
    path.write_bytes((sample / "commissioning-plan.docx").read_bytes()[:5000])
    result = extract_in_process(path, DOCX, ExtractionLimits())
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("malformed DOCX (")


def test_zip_with_a_bare_document_part_fails_as_docx(tmp_path: Path) -> None:
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<not-word/>")
    result = extract_in_process(path, DOCX, ExtractionLimits())
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("malformed DOCX (")


def test_email_headers_attachments_and_plain_body(sample: Path) -> None:
    result = _extract(sample / "helpline-referral.eml")
    assert result.status == "extracted"
    lines = result.text.splitlines()
    assert "From: Commissioning Team <commissioning@opcc.example>" in lines
    assert "To: Victim Services Board <board@opcc.example>" in lines
    assert "Cc: finance@opcc.example" in lines
    assert "Date: Mon, 01 Apr 2024 09:00:00 +0100" in lines
    assert "Subject: Helpline contract \u2013 referral figures" in lines  # RFC 2047
    assert "Attachments: helpline-q1-report.pdf" in lines
    assert "Referrals to the domestic abuse helpline rose by 12% this quarter." in lines
    assert "JVBERi0" not in result.text  # the attachment's content is not the body


def test_email_html_body_is_stripped_of_tags(sample: Path) -> None:
    text = _extract(sample / "monitoring-return.eml").text
    assert "Monitoring return for the domestic abuse helpline." in text
    assert "Calls 1,203" in text
    assert "<" not in text
    assert "color: red" not in text
    assert "trackOpen" not in text


def test_email_with_unknown_charset_still_yields_its_body(tmp_path: Path) -> None:
    path = tmp_path / "odd.eml"
    path.write_bytes(
        b"From: a@opcc.example\r\nSubject: Helpline\r\n"
        b'Content-Type: text/plain; charset="x-unknown-charset"\r\n\r\n'
        b"Needs assessment for victim services attached.\r\n"
    )
    result = _extract(path)
    assert result.status == "extracted"
    assert "Needs assessment for victim services attached." in result.text


def test_email_with_malformed_address_header_keeps_raw_value(tmp_path: Path) -> None:
    path = tmp_path / "bad-address.eml"
    path.write_bytes(
        b'From: <<<@@@>>> "unterminated\r\nTo: board@opcc.example\r\n'
        b"Subject: Helpline\r\n\r\nBody about the domestic abuse helpline.\r\n"
    )
    result = _extract(path)
    assert result.status == "extracted"
    assert "From: " in result.text
    assert "Body about the domestic abuse helpline." in result.text


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("referrals.csv", 'Domestic abuse helpline,"Safe Lives, North",2024-Q1,1203'),
        ("service-review.md", "The **needs assessment for victim services** found"),
        ("grant-note-cp1252.txt", "Grant of £12,500 for the “domestic abuse helpline” pilot."),
    ],
)
def test_text_files_are_decoded(sample: Path, name: str, phrase: str) -> None:
    result = _extract(sample / name)
    assert result.status == "extracted"
    assert phrase in result.text
    assert "\r" not in result.text


def test_utf8_with_byte_order_mark_loses_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffdomestic abuse helpline".encode())
    assert _extract(path).text == "domestic abuse helpline"


def test_undefined_cp1252_bytes_fall_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(b"helpline \x81\x8d caf\xe9")  # 0x81 and 0x8d are undefined in cp1252
    assert _extract(path).text == "helpline \x81\x8d café"


def test_whitespace_only_text_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.md"
    path.write_bytes(b" \n\t\r\n  ")
    assert _extract(path) == ExtractionResult("empty", "", None)


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "nothing.txt"
    path.write_bytes(b"")
    assert _extract(path).status == "empty"


def test_nul_characters_are_dropped_for_storage(tmp_path: Path) -> None:
    path = tmp_path / "nul.txt"
    path.write_bytes(b"domestic\x00 abuse helpline")
    result = extract_in_process(path, "text/plain", ExtractionLimits())
    assert result.text == "domestic abuse helpline"
