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


# What people call each kind of file; anything else is shown by its media type.
_WORDS: dict[str, str] = {
    PDF: "PDF",
    DOCX: "Word document",
    "application/msword": "Word document (older format)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel spreadsheet",
    "application/vnd.ms-excel": "Excel spreadsheet (older format)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "PowerPoint presentation"
    ),
    "application/vnd.oasis.opendocument.text": "OpenDocument text",
    EMAIL: "E-mail",
    "application/vnd.ms-outlook": "Outlook e-mail",
    CSV: "CSV file",
    MARKDOWN: "Markdown text",
    PLAIN_TEXT: "Text file",
    "text/html": "Web page (HTML)",
    ZIP: "Zip archive",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/tiff": "TIFF image",
    OCTET_STREAM: "File of unknown type",
}


def in_words(media_type: str) -> str:
    """The kind of file a media type names, as people say it ("Word document")."""
    kind = normalise(media_type)
    return _WORDS.get(kind, kind or "File of unknown type")
