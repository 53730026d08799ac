"""Highlighted snippets for search hits, as safe HTML.

Matches are wrapped in ``<mark>``; every other character is HTML-escaped, so
a snippet can be put into a page as it is. Whoosh re-analyses the stored
text to find matches, and only looks at the first :data:`CHAR_LIMIT`
characters of it: past that a hit falls back to the title or to the opening
of its text.
"""

from __future__ import annotations

import html
from typing import Any

from whoosh import highlight

CHAR_LIMIT = 2**15
EXCERPT_CHARS = 240


class MarkFormatter(highlight.Formatter):  # type: ignore[misc]
    """Wraps each match in ``<mark>`` and escapes everything else."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text)

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        """Return one match, escaped and marked."""
        return f"<mark>{html.escape(highlight.get_text(text, token, replace))}</mark>"


def configure(results: Any) -> None:
    """Make ``results`` produce short ``<mark>``-highlighted fragments."""
    results.fragmenter = highlight.ContextFragmenter(
        maxchars=EXCERPT_CHARS, surround=60, charlimit=CHAR_LIMIT
    )
    results.formatter = MarkFormatter()


def snippet_for(hit: Any, text: str) -> str:
    """The best snippet for ``hit``: matches in the text, else in the title, else the opening."""
    found = hit.highlights("text", text=text, top=2) if text else ""
    if not found:
        found = hit.highlights("title", top=1)
    return str(found) if found else opening(text)


def opening(text: str) -> str:
    """The first words of ``text``, escaped, ending in an ellipsis if cut short."""
    words = " ".join(text.split())
    if len(words) <= EXCERPT_CHARS:
        return html.escape(words)
    cut = words[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return html.escape(cut) + " …"
