"""Scanned documents made by the tests: text rendered to an image, then to a PDF.

The pictures hold no text layer, so only OCR can read them. Pillow's bundled font
needs no system font. ``require_tesseract`` fails (never skips) a test when the
``tesseract`` program is missing, naming the package to install.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

LINE_HEIGHT = 80
WIDTH = 1240


def scan_image(lines: Sequence[str]) -> Image.Image:
    """A white greyscale page with ``lines`` of black text, as a 150 dpi scanner makes."""
    font = ImageFont.load_default(size=40)
    page = Image.new("L", (WIDTH, LINE_HEIGHT * (len(lines) + 2)), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines, start=1):
        draw.text((60, LINE_HEIGHT * number), line, font=font, fill=0)
    return page


def scan_bytes(pages: Sequence[Sequence[str]], image_format: str) -> bytes:
    """The pages as one file: ``PDF`` or ``TIFF`` (one page or frame each), ``PNG`` or
    ``JPEG`` (one page only)."""
    images = [scan_image(lines) for lines in pages]
    out = io.BytesIO()
    first, rest = images[0], images[1:]
    if image_format in ("PDF", "TIFF"):
        first.save(out, format=image_format, save_all=True, append_images=rest, resolution=150)
    else:
        assert not rest, f"{image_format} holds one page"
        first.save(out, format=image_format)
    return out.getvalue()


def require_tesseract() -> None:
    """Fail with the reason when the tesseract program is not installed."""
    assert shutil.which("tesseract"), (
        "tesseract is not installed: run scripts/setup-system.sh "
        "(Debian packages tesseract-ocr and tesseract-ocr-eng)"
    )
