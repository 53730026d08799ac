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


def normalise(media_type: str) -> str:
    """Lower-case a media type and drop parameters such as ``; charset=utf-8``."""
    return media_type.split(";", 1)[0].strip().lower()
