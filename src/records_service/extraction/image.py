"""The image extractor for PNG, JPEG and TIFF scans: their text, recognised by OCR.

Each frame of a multi-page TIFF counts as a page for ``max_ocr_pages``. With OCR
turned off an image gives no text (``empty``). Pillow refuses an image whose header
claims a decompression bomb's size before it decodes anything.
"""

from __future__ import annotations

from pathlib import Path

from records_service.extraction._budget import TextBudget, failures_as
from records_service.extraction.ocr import ocr_allowed, recognise


def extract_image(path: Path, budget: TextBudget) -> None:
    """Feed the recognised text of each frame of the image into ``budget``."""
    # Imported here so that a worker process loads only the parser it needs.
    from PIL import Image, ImageSequence

    with failures_as("unreadable image"), Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            if not ocr_allowed(budget) or not recognise(frame, budget):
                break
