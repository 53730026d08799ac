"""Outlook .msg messages made by the tests, with extract-msg's own compound-file writer.

extract-msg reads messages and ships the OLE (compound file) writer it uses to export
embedded ones, ``extract_msg.OleWriter``; nothing on PyPI writes a whole message. So
this module lays out the streams and property streams of [MS-OXMSG] itself: the
message's properties (subject, sender, recipients' display names, date, plain body),
one recipient, and each attachment: a file by value with its file name and bytes, or
another message embedded whole (an Outlook item attached to the message, stored as a
storage of its own). Strings are UTF-16LE (``PT_UNICODE``), as Outlook writes them.
The result is read back by extract-msg in ``tests/extraction/test_outlook.py``.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from extract_msg import OleWriter

PT_LONG = 0x0003
PT_SYSTIME = 0x0040
PT_UNICODE = 0x001F
PT_BINARY = 0x0102
# Property flags: readable and writable.
_FLAGS = 0x00000006
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Attachment:
    """A file attached by value."""

    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class AttachedMessage:
    """Another message attached whole (an embedded Outlook item), with its own files."""

    subject: str
    sender: tuple[str, str]
    to: tuple[str, str]
    body: str
    sent: datetime
    attachments: Sequence[Attachment | AttachedMessage] = ()


def _stream_name(prop_id: int, prop_type: int) -> str:
    return f"__substg1.0_{prop_id:04X}{prop_type:04X}"


def _fixed(prop_id: int, prop_type: int, value: bytes) -> bytes:
    """A 16-byte property entry holding its value (PT_LONG, PT_SYSTIME)."""
    return struct.pack("<II", (prop_id << 16) | prop_type, _FLAGS) + value.ljust(8, b"\0")


def _variable(prop_id: int, prop_type: int, size: int) -> bytes:
    """A 16-byte property entry for a value kept in its own stream (its size only)."""
    return struct.pack("<IIII", (prop_id << 16) | prop_type, _FLAGS, size, 0)


class _Storage:
    """The streams of one storage (the message, a recipient, an attachment) and its
    property stream entries."""

    def __init__(self, writer: OleWriter, prefix: str) -> None:
        self._writer = writer
        self._prefix = prefix
        self.entries: list[bytes] = []

    def text(self, prop_id: int, value: str) -> None:
        # The stream holds the characters; the size counts the terminator too.
        data = value.encode("utf-16-le")
        self._add(_stream_name(prop_id, PT_UNICODE), data)
        self.entries.append(_variable(prop_id, PT_UNICODE, len(data) + 2))

    def binary(self, prop_id: int, value: bytes) -> None:
        self._add(_stream_name(prop_id, PT_BINARY), value)
        self.entries.append(_variable(prop_id, PT_BINARY, len(value)))

    def long(self, prop_id: int, value: int) -> None:
        self.entries.append(_fixed(prop_id, PT_LONG, struct.pack("<I", value)))

    def time(self, prop_id: int, value: datetime) -> None:
        ticks = int((value - _FILETIME_EPOCH).total_seconds() * 10_000_000)
        self.entries.append(_fixed(prop_id, PT_SYSTIME, struct.pack("<Q", ticks)))

    def properties(self, header: bytes) -> None:
        self._add("__properties_version1.0", header + b"".join(self.entries))

    def _add(self, name: str, data: bytes) -> None:
        self._writer.addEntry(f"{self._prefix}{name}", data)


def msg_bytes(
    *,
    subject: str,
    sender: tuple[str, str],
    to: tuple[str, str],
    body: str,
    sent: datetime,
    attachments: Sequence[Attachment | AttachedMessage] = (),
) -> bytes:
    """An Outlook message (IPM.Note) with a plain body and ``attachments`` (files by
    value, or messages embedded whole); ``sender`` and ``to`` are (display name, SMTP
    address)."""
    writer = OleWriter()
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    whole = AttachedMessage(subject, sender, to, body, sent, attachments)
    _message(writer, "", whole, top=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _message(writer: OleWriter, prefix: str, item: AttachedMessage, *, top: bool) -> None:
    """The streams of a message under ``prefix`` (the file's root, or an embedding
    attachment's ``__substg1.0_3701000D`` storage)."""
    message = _Storage(writer, prefix)
    message.text(0x001A, "IPM.Note")  # PR_MESSAGE_CLASS
    message.text(0x0037, item.subject)  # PR_SUBJECT
    message.text(0x0C1A, item.sender[0])  # PR_SENDER_NAME
    message.text(0x0C1F, item.sender[1])  # PR_SENDER_EMAIL_ADDRESS
    message.text(0x5D01, item.sender[1])  # PR_SENDER_SMTP_ADDRESS
    message.text(0x0E04, item.to[0])  # PR_DISPLAY_TO
    message.text(0x1000, item.body)  # PR_BODY
    message.time(0x0039, item.sent)  # PR_CLIENT_SUBMIT_TIME
    message.time(0x0E06, item.sent)  # PR_MESSAGE_DELIVERY_TIME
    _recipient(writer, prefix, item.to)
    for number, attachment in enumerate(item.attachments):
        _attachment(writer, prefix, number, attachment)
    # Header: 8 reserved bytes, next recipient and attachment ids, their counts, and
    # (at the top level only) 8 reserved bytes more.
    count = len(item.attachments)
    header = struct.pack("<8xIIII", 1, count, 1, count) + (b"\0" * 8 if top else b"")
    message.properties(header)


def _recipient(writer: OleWriter, parent: str, to: tuple[str, str]) -> None:
    prefix = f"{parent}__recip_version1.0_#00000000/"
    writer.addEntry(prefix.rstrip("/"), storage=True)
    recipient = _Storage(writer, prefix)
    recipient.text(0x3001, to[0])  # PR_DISPLAY_NAME
    recipient.text(0x3003, to[1])  # PR_EMAIL_ADDRESS
    recipient.text(0x39FE, to[1])  # PR_SMTP_ADDRESS
    recipient.long(0x0C15, 1)  # PR_RECIPIENT_TYPE: To
    recipient.properties(b"\0" * 8)


def _attachment(
    writer: OleWriter, parent: str, number: int, attachment: Attachment | AttachedMessage
) -> None:
    prefix = f"{parent}__attach_version1.0_#{number:08X}/"
    writer.addEntry(prefix.rstrip("/"), storage=True)
    storage = _Storage(writer, prefix)
    if isinstance(attachment, AttachedMessage):
        storage.long(0x3705, 5)  # PR_ATTACH_METHOD: an embedded message
        storage.text(0x3001, attachment.subject)  # PR_DISPLAY_NAME
        storage.text(0x370E, "application/vnd.ms-outlook")  # PR_ATTACH_MIME_TAG
        embedded = f"{prefix}__substg1.0_3701000D"
        writer.addEntry(embedded, storage=True)
        _message(writer, f"{embedded}/", attachment, top=False)
        storage.properties(b"\0" * 8)
        return
    storage.long(0x3705, 1)  # PR_ATTACH_METHOD: by value
    storage.text(0x3707, attachment.filename)  # PR_ATTACH_LONG_FILENAME
    storage.text(0x3704, attachment.filename[:12])  # PR_ATTACH_FILENAME (8.3)
    storage.text(0x370E, attachment.mime_type)  # PR_ATTACH_MIME_TAG
    storage.binary(0x3701, attachment.data)  # PR_ATTACH_DATA_BIN
    storage.long(0x0E20, len(attachment.data))  # PR_ATTACH_SIZE
    storage.properties(b"\0" * 8)
