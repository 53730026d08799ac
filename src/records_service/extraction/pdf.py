"""The PDF extractor: text of each page in order, via pypdf, with OCR for scanned pages.

Encrypted PDFs are opened with the empty password first, as PDF viewers do, so a file
that is only protected against editing or printing (an owner password) still yields its
text; a PDF that needs a user password fails with "encrypted PDF". Pages beyond
``max_pages`` are not read. pypdf's own configuration bounds the size of each
decompressed stream.

A page with no text layer (a scanned page) has its images recognised by OCR
(:mod:`records_service.extraction.ocr`), when OCR is on and ``max_ocr_pages`` is not
used up. An image pypdf cannot decode (an unusual scanner compression) is passed
over: the rest of the document still gives its text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from records_service.extraction._budget import ExtractionFailure, TextBudget, failures_as
from records_service.extraction.ocr import ocr_allowed, recognise


def extract_pdf(path: Path, budget: TextBudget) -> None:
    """Feed the text of the PDF's pages into ``budget``, one page at a time."""
    # Imported here so that a worker process loads only the parser it needs.
    from pypdf import PasswordType, PdfReader

    with failures_as("malformed PDF"):
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ExtractionFailure("encrypted PDF")
        for number, page in enumerate(reader.pages):
            if number >= budget.limits.max_pages:
                break
            budget.check_time()
            text = page.extract_text()
            if not text.strip() and ocr_allowed(budget):
                if not _recognise_page(page, budget):
                    break
            elif not budget.add(text):
                break


def _recognise_page(page: Any, budget: TextBudget) -> bool:
    """OCR the images of a page without a text layer; return False once the budget is full."""
    for image in _page_images(page):
        if not ocr_allowed(budget):
            break  # later pages may still have a text layer
        if not recognise(image, budget):
            return False
    return True


def _page_images(page: Any) -> list[Any]:
    """The page's images that can be decoded (pypdf decodes each as it is read)."""
    try:
        names = list(page.images.keys())
    except Exception:  # a damaged resource dictionary: nothing to recognise
        return []
    decoded = (_decoded(page, name) for name in names)
    return [image for image in decoded if image is not None]


def _decoded(page: Any, name: Any) -> Any:
    """One image of the page as Pillow's, or None when it cannot be decoded."""
    try:
        return page.images[name].image
    except Exception:  # a filter pypdf or Pillow cannot decode (JBIG2 without jbig2dec)
        return None
