"""The PDF extractor: text of each page in order, via pypdf.

Encrypted PDFs are opened with the empty password first, as PDF viewers do, so a file
that is only protected against editing or printing (an owner password) still yields its
text; a PDF that needs a user password fails with "encrypted PDF". Pages beyond
``max_pages`` are not read. pypdf's own configuration bounds the size of each
decompressed stream.
"""

from __future__ import annotations

from pathlib import Path

from records_service.extraction._budget import ExtractionFailure, TextBudget, failures_as


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
            if not budget.add(page.extract_text()):
                break
