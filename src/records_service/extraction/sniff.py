"""Media type sniffing: the real type of an upload from its bytes, never from the client.

The client's content type is ignored. The bytes decide between PDF, DOCX, other zip
archives, e-mail (RFC 5322 and Outlook .msg), PNG, JPEG and TIFF images, text and
unknown binary; the filename extension only chooses between ``text/csv``,
``text/markdown`` and ``text/plain`` once the bytes are known to be text. Callers pass
the first ``SNIFF_BYTES`` of the upload, or a path when the file is stored locally (a
zip archive can only be told apart from a DOCX reliably by its directory, and an OLE
compound file from an Outlook message by its directory too).
"""

from __future__ import annotations

import codecs
import re
import struct
import zipfile
from pathlib import Path, PurePath
from typing import BinaryIO

from records_service.extraction import media_types

SNIFF_BYTES = 8192
"""How many leading bytes ``sniff_media_type`` needs to decide."""

_PDF_MAGIC = b"%PDF-"
# Acrobat accepts the header anywhere in the first 1024 bytes, so some producers emit junk.
_PDF_HEADER_WINDOW = 1024
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_DOCX_MAIN_PART = "word/document.xml"
_IMAGE_MAGICS = (
    (b"\x89PNG\r\n\x1a\n", media_types.PNG),
    (b"\xff\xd8\xff", media_types.JPEG),
    (b"II*\x00", media_types.TIFF),
    (b"MM\x00*", media_types.TIFF),
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Every Outlook message has this stream at its root ([MS-OXMSG] 2.4); directory
# entry names are UTF-16LE.
_MSG_PROPERTIES = "__properties_version1.0"
_MSG_MARK = "__substg1.0_".encode("utf-16-le")
_TEXT_EXTENSIONS = {
    ".csv": media_types.CSV,
    ".md": media_types.MARKDOWN,
    ".markdown": media_types.MARKDOWN,
}
# Controls legitimately found in text files: tab, newlines, form feed, escape, DOS EOF.
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\x1a\x1b")
_MAX_CONTROL_SHARE = 0.01
_HEADER_FIELD = re.compile(r"([!-9;-~]+):")
_MAIL_FIELDS = frozenset(
    {
        "from",
        "to",
        "cc",
        "date",
        "subject",
        "message-id",
        "received",
        "return-path",
        "mime-version",
        "reply-to",
        "sender",
        "in-reply-to",
        "references",
    }
)


def sniff_media_type(head: bytes, filename: str | None) -> str:
    """Return the media type of a file from its first bytes (``SNIFF_BYTES`` is enough).

    A zip archive is reported as DOCX only when a local header for
    ``word/document.xml`` is within ``head``, and an OLE compound file as an Outlook
    message only when a message property stream's name is; ``sniff_path`` reads the
    directory and is authoritative. Empty input counts as text.
    """
    if _PDF_MAGIC in head[:_PDF_HEADER_WINDOW]:
        return media_types.PDF
    if head.startswith(_ZIP_MAGICS):
        has_document = _DOCX_MAIN_PART in _local_header_names(head)
        return media_types.DOCX if has_document else media_types.ZIP
    if head.startswith(_OLE_MAGIC):
        return media_types.OUTLOOK_MSG if _MSG_MARK in head else media_types.OLE_STORAGE
    for magic, image_type in _IMAGE_MAGICS:
        if head.startswith(magic):
            return image_type
    text = _decode_text(head)
    if text is None:
        return media_types.OCTET_STREAM
    if _looks_like_email(text):
        return media_types.EMAIL
    suffix = PurePath(filename).suffix.lower() if filename else ""
    return _TEXT_EXTENSIONS.get(suffix, media_types.PLAIN_TEXT)


def sniff_path(path: Path, filename: str | None) -> str:
    """Return the media type of a stored file, reading the zip directory if it is a zip.

    ``filename`` is the client's name for the file (the stored path may have none).
    Raises ``OSError`` if the file cannot be read.
    """
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    verdict = sniff_media_type(head, filename)
    if verdict in (media_types.OUTLOOK_MSG, media_types.OLE_STORAGE):
        with path.open("rb") as stream:
            return ole_media_type(stream, verdict)
    if verdict not in (media_types.ZIP, media_types.DOCX):
        return verdict
    names = _zip_member_names(path)
    if names is None:
        # A broken directory: keep the verdict from the local headers, so a truncated
        # DOCX still reaches the DOCX extractor and fails there with a reason.
        return verdict
    return media_types.DOCX if _DOCX_MAIN_PART in names else media_types.ZIP


def ole_media_type(stream: BinaryIO, verdict: str) -> str:
    """Outlook message or other OLE file, by the compound file's directory.

    ``verdict`` (from the head) stands when the directory cannot be read, so a damaged
    message still reaches the message extractor and fails there with a reason.
    """
    import olefile

    try:
        stream.seek(0)
        with olefile.OleFileIO(stream) as ole:
            is_message = bool(ole.exists(_MSG_PROPERTIES))
    except Exception:  # olefile raises assorted errors on damaged directories
        return verdict
    return media_types.OUTLOOK_MSG if is_message else media_types.OLE_STORAGE


def _zip_member_names(path: Path) -> set[str] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def _local_header_names(head: bytes) -> set[str]:
    """Names of the zip members whose local headers start within ``head``."""
    names: set[str] = set()
    start = head.find(_ZIP_LOCAL_HEADER)
    while start != -1 and start + 30 <= len(head):
        (name_length,) = struct.unpack_from("<H", head, start + 26)
        raw_name = head[start + 30 : start + 30 + name_length]
        names.add(raw_name.decode("utf-8", errors="replace"))
        start = head.find(_ZIP_LOCAL_HEADER, start + 4)
    return names


def _decode_text(head: bytes) -> str | None:
    """Decode ``head`` as text, or return None if it looks binary."""
    if b"\x00" in head:
        return None
    try:
        # Not final: the head may end in the middle of a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    controls = sum(1 for char in text if char < " " and char not in _ALLOWED_CONTROLS)
    if controls > len(text) * _MAX_CONTROL_SHARE:
        return None
    return text


def _looks_like_email(text: str) -> bool:
    """Whether ``text`` opens with an RFC 5322 header block naming mail fields."""
    lines = text.split("\n")
    if lines and lines[0].startswith("From "):
        lines = lines[1:]  # an mbox separator line, which the e-mail parser accepts
    if len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short by the end of the head
    fields: set[str] = set()
    for raw_line in lines:
        line = raw_line.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            if not fields:
                return False
            continue
        match = _HEADER_FIELD.match(line)
        if match is None:
            return False
        fields.add(match.group(1).lower())
    return len(fields & _MAIL_FIELDS) >= 2
