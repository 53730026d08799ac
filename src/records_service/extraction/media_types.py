"""The media type strings that sniffing returns and the extractor registry is keyed by."""

from __future__ import annotations

from typing import Final

PDF: Final = "application/pdf"
DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP: Final = "application/zip"
EMAIL: Final = "message/rfc822"
CSV: Final = "text/csv"
MARKDOWN: Final = "text/markdown"
PLAIN_TEXT: Final = "text/plain"
OCTET_STREAM: Final = "application/octet-stream"
PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
TIFF: Final = "image/tiff"
OUTLOOK_MSG: Final = "application/vnd.ms-outlook"
# An OLE compound file that is not an Outlook message (an old Word or Excel file).
OLE_STORAGE: Final = "application/x-ole-storage"

IMAGES: Final = frozenset({PNG, JPEG, TIFF})
MESSAGES: Final = frozenset({EMAIL, OUTLOOK_MSG})


def normalise(media_type: str) -> str:
    """Lower-case a media type and drop parameters such as ``; charset=utf-8``."""
    return media_type.split(";", 1)[0].strip().lower()
