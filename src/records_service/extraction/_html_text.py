"""Readable text from an HTML e-mail body, using the standard library's HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser

_HIDDEN = frozenset({"head", "script", "style", "template", "title"})
_BLOCKS = frozenset(
    {"address", "blockquote", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li"}
    | {"ol", "p", "pre", "section", "table", "tr", "ul"}
)
_CELLS = frozenset({"td", "th"})


class _TextCollector(HTMLParser):
    """Keeps visible text, turning block elements into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track hidden elements and break lines at block starts."""
        self._mark(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        """Leave hidden elements and break lines at block ends."""
        self._mark(tag, opening=False)

    def handle_data(self, data: str) -> None:
        """Keep text outside hidden elements."""
        if not self._hidden_depth:
            self.parts.append(data)

    def _mark(self, tag: str, *, opening: bool) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth + (1 if opening else -1))
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append(" ")


def html_to_text(markup: str) -> str:
    """Strip tags from ``markup``: one line per block, runs of spaces collapsed."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).splitlines())
    return "\n".join(line for line in lines if line)
