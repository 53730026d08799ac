"""The DOCX extractor: body paragraphs and table cells in document order, via python-docx.

The archive passes the zip-bomb guard before python-docx opens it. Nested tables are
read; headers, footers, footnotes, comments and text boxes are not. python-docx parses
with entity resolution switched off, so XML entity expansion is not a risk.
"""

from __future__ import annotations

from pathlib import Path

from records_service.extraction._budget import TextBudget, failures_as
from records_service.extraction._zip_guard import check_zip_limits


def extract_docx(path: Path, budget: TextBudget) -> None:
    """Feed the DOCX's paragraphs and table cells into ``budget``."""
    check_zip_limits(path, budget)
    # Imported here so that a worker process loads only the parser it needs.
    from records_service.extraction._docx_body import feed_document

    with failures_as("malformed DOCX"):
        feed_document(path, budget)
