"""The DOCX extractor: body paragraphs and table cells in document order, via python-docx.

The archive passes the zip-bomb guard before python-docx opens it. Nested tables are
read; headers, footers, footnotes, comments and text boxes are not. python-docx parses
with entity resolution switched off, so XML entity expansion is not a risk.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from records_service.extraction._budget import TextBudget, failures_as
from records_service.extraction._zip_guard import check_zip_limits


def extract_docx(path: Path, budget: TextBudget) -> None:
    """Feed the DOCX's paragraphs and table cells into ``budget``."""
    check_zip_limits(path, budget)
    with failures_as("malformed DOCX"):
        document = docx.Document(str(path))
        _collect_blocks(document.iter_inner_content(), budget)


def _collect_blocks(blocks: Iterable[Paragraph | Table], budget: TextBudget) -> bool:
    """Feed each block; return False once the budget is full."""
    for block in blocks:
        if isinstance(block, Paragraph):
            if not budget.add(block.text):
                return False
        elif not _collect_table(block, budget):
            return False
    return True


def _collect_table(table: Table, budget: TextBudget) -> bool:
    for row in table.rows:
        previous = None
        for cell in row.cells:
            # A cell spanning several grid columns is returned once per column.
            if cell is previous:
                continue
            previous = cell
            if not _collect_blocks(cell.iter_inner_content(), budget):
                return False
    return True
