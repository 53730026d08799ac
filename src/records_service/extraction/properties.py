"""A document's own date and title, as the document states them.

The dates the web upload page suggests (``web/static/site.js``) read the same places:
a PDF's ``/CreationDate`` (or XMP ``xmp:CreateDate``) in its first or last 256 KiB, a
Word document's ``dcterms:created`` in ``docProps/core.xml``, and here also an
e-mail's ``Date`` header. Titles come from a Word document's ``dc:title`` and an
e-mail's ``Subject``. Every read is bounded (the PDF windows, a core properties part
of at most :data:`MAX_PART_BYTES`, an e-mail's first :data:`HEADER_BYTES`), and a
document that cannot be read simply has no properties: nothing here raises for bad
content.
"""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from html import unescape
from typing import BinaryIO

from records_service.extraction import media_types

PDF_WINDOW = 256 * 1024
MAX_PART_BYTES = 1024 * 1024
HEADER_BYTES = 64 * 1024
_CORE_PART = "docProps/core.xml"

_PDF_DATE = re.compile(rb"/CreationDate\s*\((?:D(?::|\\072))?(\d{4})(\d\d)(\d\d)")
_XMP_DATE = re.compile(rb"xmp:CreateDate(?:>|=\")(\d{4})-(\d\d)-(\d\d)")
_DOCX_DATE = re.compile(r"<dcterms:created[^>]*>(\d{4})-(\d\d)-(\d\d)")
_DOCX_TITLE = re.compile(r"<dc:title>([^<]*)</dc:title>")


@dataclass(frozen=True)
class DocumentProperties:
    """What a document says about itself; ``None`` where it says nothing usable."""

    created: date | None = None
    title: str | None = None


def _day(year: bytes | str, month: bytes | str, day: bytes | str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def read_properties(stream: BinaryIO, media_type: str) -> DocumentProperties:
    """The properties of the seekable ``stream``, a document of ``media_type``."""
    kind = media_types.normalise(media_type)
    try:
        if kind == media_types.PDF:
            return _pdf(stream)
        if kind in (media_types.DOCX, media_types.ZIP):
            return _docx(stream)
        if kind == media_types.EMAIL:
            return _email(stream)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, LookupError):
        pass
    return DocumentProperties()


def _pdf(stream: BinaryIO) -> DocumentProperties:
    stream.seek(0)
    head = stream.read(PDF_WINDOW)
    stream.seek(0, 2)
    end = stream.tell()
    stream.seek(max(len(head), end - PDF_WINDOW))
    text = head + stream.read(PDF_WINDOW)
    match = _PDF_DATE.search(text) or _XMP_DATE.search(text)
    return DocumentProperties(created=_day(*match.groups()) if match else None)


def _docx(stream: BinaryIO) -> DocumentProperties:
    stream.seek(0)
    with zipfile.ZipFile(stream) as archive:
        try:
            info = archive.getinfo(_CORE_PART)
        except KeyError:
            return DocumentProperties()
        if info.file_size > MAX_PART_BYTES or info.flag_bits & 0x1:
            return DocumentProperties()
        with archive.open(info) as part:
            xml = part.read(MAX_PART_BYTES).decode("utf-8", errors="replace")
    created = _DOCX_DATE.search(xml)
    title = _DOCX_TITLE.search(xml)
    return DocumentProperties(
        created=_day(*created.groups()) if created else None,
        title=_clean(unescape(title.group(1))) if title else None,
    )


def _email(stream: BinaryIO) -> DocumentProperties:
    stream.seek(0)
    head = stream.read(HEADER_BYTES)
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    created = None
    raw_date = headers.get("Date")
    if raw_date:
        try:
            created = parsedate_to_datetime(str(raw_date)).date()
        except (TypeError, ValueError, IndexError):
            created = None
    subject = headers.get("Subject")
    if subject is None:
        return DocumentProperties(created=created)
    title = _clean(str(email.header.make_header(email.header.decode_header(str(subject)))))
    return DocumentProperties(created=created, title=title)


def _clean(text: str) -> str | None:
    """One line of text, or ``None`` if nothing is left."""
    cleaned = " ".join(text.split())
    return cleaned or None
