"""What snippets share whatever the engine: their length and the opening fallback.

A snippet is HTML: matches in ``<mark>``, everything else escaped, so a page
can insert it as it is.
"""

from __future__ import annotations

import html

EXCERPT_CHARS = 240


def opening(text: str) -> str:
    """The first words of ``text``, escaped, ending in an ellipsis if cut short."""
    words = " ".join(text.split())
    if len(words) <= EXCERPT_CHARS:
        return html.escape(words)
    cut = words[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return html.escape(cut) + " …"
