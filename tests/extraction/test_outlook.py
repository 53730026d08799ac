"""Outlook .msg messages (made by ``support.outlook``): sniffed by their directory, their
headers, attachment names and body extracted, and their attachments listed as parts,
as are those of an .eml."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from extract_msg import OleWriter

from records_service.extraction import ExtractionLimits, sniff_path
from records_service.extraction.parts import MessagePart, UnreadableMessage, message_parts
from records_service.extraction.registry import extract_in_process
from support.outlook import Attachment, msg_bytes

MSG = "application/vnd.ms-outlook"
CONTRACT = b"Contract for the domestic abuse helpline on Kestrel terms.\n"


def _message(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "subject": "Helpline contract signed",
        "sender": ("Jo Bloggs", "jo@provider.example"),
        "to": ("Commissioning Team", "commissioning@opcc.example"),
        "body": "Please find the signed contract attached.\r\nRegards, Jo",
        "sent": datetime(2016, 9, 1, 10, 0, tzinfo=UTC),
        "attachments": [
            Attachment("signed contract.txt", CONTRACT, "text/plain"),
            Attachment("schedule.csv", b"service,value\nhelpline,4500000\n", "text/csv"),
        ],
    }
    fields.update(overrides)
    return msg_bytes(**fields)  # type: ignore[arg-type]


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "signed.msg"
    path.write_bytes(_message())
    return path


def test_a_message_is_sniffed_by_its_directory_not_its_name(message: Path, tmp_path: Path) -> None:
    assert sniff_path(message, "notes.txt") == MSG
    other = OleWriter()
    other.addEntry("WordDocument", b"\0" * 600)
    doc = io.BytesIO()
    other.write(doc)
    legacy = tmp_path / "letter.msg"
    legacy.write_bytes(doc.getvalue())
    assert sniff_path(legacy, "letter.msg") == "application/x-ole-storage"


def test_headers_attachment_names_and_body_are_extracted(message: Path) -> None:
    result = extract_in_process(message, MSG, ExtractionLimits())
    assert result.status == "extracted", result.reason
    lines = result.text.splitlines()
    assert lines[:5] == [
        "From: Jo Bloggs <jo@provider.example>",
        "To: Commissioning Team <commissioning@opcc.example>",
        "Date: 2016-09-01 10:00:00+00:00",
        "Subject: Helpline contract signed",
        "Attachments: signed contract.txt, schedule.csv",
    ]
    assert result.text.endswith("Please find the signed contract attached.\nRegards, Jo")


def test_a_damaged_message_fails_with_a_reason(message: Path) -> None:
    message.write_bytes(message.read_bytes()[:1500])
    result = extract_in_process(message, MSG, ExtractionLimits())
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("malformed Outlook message (")
    with pytest.raises(UnreadableMessage):
        list(message_parts(message, MSG))


def test_the_attachments_of_a_message_are_its_parts_in_order(message: Path) -> None:
    assert list(message_parts(message, MSG)) == [
        MessagePart(0, "signed contract.txt", CONTRACT),
        MessagePart(1, "schedule.csv", b"service,value\nhelpline,4500000\n"),
    ]


def test_the_attachments_of_an_eml_are_its_parts(sample: Path) -> None:
    parts = list(message_parts(sample / "helpline-referral.eml", "message/rfc822"))
    assert [(p.position, p.filename) for p in parts] == [(0, "helpline-q1-report.pdf")]
    assert parts[0].data.startswith(b"%PDF-")
    assert list(message_parts(sample / "monitoring-return.eml", "message/rfc822")) == []


def test_an_attached_message_is_one_part_whose_own_attachments_stay_inside(
    sample: Path, tmp_path: Path
) -> None:
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    raw = (sample / "helpline-referral.eml").read_bytes()
    inner = message_from_bytes(raw, policy=policy.default)
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = "a@x.example", "b@x.example", "Fwd"
    outer.set_content("Forwarding the referral.")
    outer.add_attachment(inner)
    path = tmp_path / "forward.eml"
    path.write_bytes(outer.as_bytes())
    parts = list(message_parts(path, "message/rfc822"))
    assert [(p.position, p.filename) for p in parts] == [(0, "")]
    assert b"helpline-q1-report.pdf" in parts[0].data
