"""The value types of the extraction API: the limits a caller sets and the result it gets.

Both are frozen dataclasses so they can cross the process boundary to the extraction
worker by pickling and be compared in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ExtractionStatus = Literal["extracted", "empty", "failed"]

# Zip members up to this size are exempt from the compression ratio limit: small
# members cannot make a bomb, and tiny XML parts compress very well.
RATIO_FLOOR_BYTES = 1024 * 1024
# Tesseract language names joined by "+", as its -l option takes them ("eng+cym").
OCR_LANGUAGES = re.compile(r"[a-z][a-z_]{1,31}(\+[a-z][a-z_]{1,31}){0,7}")


@dataclass(frozen=True)
class ExtractionLimits:
    """Bounds on the work done for one document.

    ``max_chars``: text beyond this is dropped; the result is still ``extracted``.
    ``max_pages``: PDF pages read at most; later pages are ignored.
    ``max_seconds``: wall-clock budget; past it the document fails.
    ``max_uncompressed_bytes`` and ``max_compression_ratio``: zip-bomb guard for DOCX.
    ``ocr``: recognise the text of scanned pages and images (Tesseract); when off, a
    page or image without a text layer gives no text.
    ``ocr_languages``: Tesseract's language names, joined by ``+`` (``eng+cym``).
    ``max_ocr_pages``: pages or images recognised at most per document (OCR takes
    seconds a page, where reading a text layer takes milliseconds).
    """

    max_chars: int = 2_000_000
    max_pages: int = 2_000
    max_seconds: float = 30.0
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: float = 200.0
    ocr: bool = True
    ocr_languages: str = "eng"
    max_ocr_pages: int = 50

    def __post_init__(self) -> None:
        """Reject limits that would make every document fail or never stop."""
        names = ("max_chars", "max_pages", "max_seconds", "max_uncompressed_bytes", "max_ocr_pages")
        for name in names:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_compression_ratio < 1:
            raise ValueError("max_compression_ratio must be at least 1")
        if not OCR_LANGUAGES.fullmatch(self.ocr_languages):
            raise ValueError("ocr_languages must be Tesseract language names joined by '+'")


@dataclass(frozen=True)
class ExtractionResult:
    """The outcome of extracting one document.

    ``text`` is empty unless ``status`` is ``extracted``; ``reason`` is a short, human
    readable explanation when ``status`` is ``failed`` and ``None`` otherwise. ``ocr``
    says that some of the text was recognised by OCR from scanned pages or images
    rather than read from the document's own text.
    """

    status: ExtractionStatus
    text: str
    reason: str | None
    ocr: bool = False

    @classmethod
    def extracted(cls, text: str, *, ocr: bool = False) -> ExtractionResult:
        """A result carrying text that is not only whitespace."""
        return cls(status="extracted", text=text, reason=None, ocr=ocr)

    @classmethod
    def empty(cls) -> ExtractionResult:
        """A readable document with no text (a scanned PDF, a blank file)."""
        return cls(status="empty", text="", reason=None)

    @classmethod
    def failed(cls, reason: str) -> ExtractionResult:
        """A document that could not be read, with the reason."""
        return cls(status="failed", text="", reason=reason)
