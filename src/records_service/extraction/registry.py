"""The extractor registry: one extractor per media type, and the in-process run.

An extractor is a plain function that feeds text into a ``TextBudget`` and raises
``ExtractionFailure`` when it cannot read the document. ``extract_in_process`` turns
that into an ``ExtractionResult`` and has only the cooperative deadline; the public
``extract_text`` runs it in a worker process so that a hard time bound also holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from records_service.extraction import media_types
from records_service.extraction._budget import (
    ExtractionFailure,
    MonotonicClock,
    TextBudget,
    describe,
)
from records_service.extraction.docx_text import extract_docx
from records_service.extraction.eml import extract_email
from records_service.extraction.image import extract_image
from records_service.extraction.model import ExtractionLimits, ExtractionResult
from records_service.extraction.msg import extract_outlook_message
from records_service.extraction.pdf import extract_pdf
from records_service.extraction.plain import extract_plain_text

Extractor = Callable[[Path, TextBudget], None]

EXTRACTORS: Mapping[str, Extractor] = MappingProxyType(
    {
        media_types.PDF: extract_pdf,
        media_types.DOCX: extract_docx,
        media_types.EMAIL: extract_email,
        media_types.OUTLOOK_MSG: extract_outlook_message,
        media_types.PLAIN_TEXT: extract_plain_text,
        media_types.MARKDOWN: extract_plain_text,
        media_types.CSV: extract_plain_text,
        media_types.PNG: extract_image,
        media_types.JPEG: extract_image,
        media_types.TIFF: extract_image,
    }
)


def supported_media_types() -> frozenset[str]:
    """The media types that have an extractor."""
    return frozenset(EXTRACTORS)


def extractor_for(media_type: str) -> Extractor | None:
    """The extractor for ``media_type`` (parameters and case ignored), if any."""
    return EXTRACTORS.get(media_types.normalise(media_type))


def extract_in_process(
    path: Path,
    media_type: str,
    limits: ExtractionLimits,
    clock: MonotonicClock = time.monotonic,
) -> ExtractionResult:
    """Extract in the calling process, bounded only by the cooperative deadline.

    Never raises: a document the extractor cannot read, and any unexpected error from
    a parser, becomes a ``failed`` result with a reason.
    """
    extractor = extractor_for(media_type)
    if extractor is None:
        return ExtractionResult.failed(f"no extractor for {media_type}")
    budget = TextBudget(limits, clock)
    try:
        extractor(path, budget)
    except ExtractionFailure as failure:
        return ExtractionResult.failed(failure.reason)
    except Exception as exc:
        return ExtractionResult.failed(f"unexpected error ({describe(exc)})")
    text = budget.text()
    if not text.strip():
        return ExtractionResult.empty()
    return ExtractionResult.extracted(text, ocr=budget.ocr_pages > 0)
