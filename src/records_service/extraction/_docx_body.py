"""Walks a python-docx document body, feeding paragraphs and table cells to a budget."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from records_service.extraction._budget import TextBudget


def feed_document(path: Path, budget: TextBudget) -> None:
    """Open the DOCX at ``path`` and feed its body in document order."""
    document = docx.Document(str(path))
    _feed_blocks(document.iter_inner_content(), budget)


def _feed_blocks(blocks: Iterable[Paragraph | Table], budget: TextBudget) -> bool:
    """Feed each block; return False once the budget is full."""
    for block in blocks:
        if isinstance(block, Paragraph):
            if not budget.add(block.text):
                return False
        elif not _feed_table(block, budget):
            return False
    return True


def _feed_table(table: Table, budget: TextBudget) -> bool:
    for row in table.rows:
        previous = None
        for cell in row.cells:
            # A cell spanning several grid columns is returned once per column.
            if cell is previous:
                continue
            previous = cell
            if not _feed_blocks(cell.iter_inner_content(), budget):
                return False
    return True
