"""Optical character recognition of scanned pages and images, through Tesseract.

The PDF extractor sends here the images of a page that has no text layer; the image
extractor sends each image (each frame of a multi-page TIFF). ``pytesseract`` runs the
``tesseract`` program (Debian ``tesseract-ocr`` and a language pack such as
``tesseract-ocr-eng``) once per image, with the time left in the budget as its
timeout, so recognition ends by the document's deadline. At most ``max_ocr_pages``
images are recognised per document. When Tesseract is not installed, the document
fails with a reason that says so; it is never silently left without text.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from records_service.extraction._budget import (
    DeadlineExceeded,
    ExtractionFailure,
    TextBudget,
    describe,
)

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_OCR_PIXELS = 60_000_000
"""Largest image recognised (an A4 page scanned at 600 dpi is 35 million pixels)."""
MIN_OCR_SIDE = 32
"""Images narrower or lower than this (rules, bullets, logos) hold no readable text."""
TESSERACT_MISSING = (
    "OCR needs Tesseract, which is not installed (no 'tesseract' program on the PATH): "
    "install the tesseract-ocr and tesseract-ocr-eng packages, or turn OCR off"
)


def ocr_allowed(budget: TextBudget) -> bool:
    """Whether one more page or image may be recognised under ``budget``."""
    limits = budget.limits
    return limits.ocr and budget.ocr_attempts < limits.max_ocr_pages and not budget.full


def recognise(image: Image, budget: TextBudget) -> bool:
    """Recognise the text of ``image`` into ``budget``; return False once it is full.

    Raises ``ExtractionFailure`` when Tesseract is missing or fails, and
    ``DeadlineExceeded`` when the budget's time runs out during recognition.
    """
    import pytesseract

    budget.check_time()
    width, height = image.size
    if width < MIN_OCR_SIDE or height < MIN_OCR_SIDE:
        return not budget.full
    if width * height > MAX_OCR_PIXELS:
        raise ExtractionFailure(
            f"image of {width}x{height} pixels is too large for OCR "
            f"(at most {MAX_OCR_PIXELS:,} pixels)"
        )
    budget.ocr_attempts += 1
    # Tesseract would start a thread per core for each page; the extraction worker is
    # background work on a shared machine, so one thread.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        text = pytesseract.image_to_string(
            image, lang=budget.limits.ocr_languages, timeout=max(budget.seconds_left(), 0.1)
        )
    except pytesseract.TesseractNotFoundError:
        raise ExtractionFailure(TESSERACT_MISSING) from None
    except pytesseract.TesseractError as exc:
        raise ExtractionFailure(f"OCR failed ({describe(exc)})") from exc
    except RuntimeError as exc:  # pytesseract's timeout, after it has killed tesseract
        raise DeadlineExceeded(
            f"time limit of {budget.limits.max_seconds:g} s exceeded during OCR"
        ) from exc
    return budget.add_recognised(text)
