"""Highlighted snippets for tantivy hits, as safe HTML.

Only the hits on the page get a snippet. tantivy's ``SnippetGenerator`` picks
the best fragment of the text around the query's words (re-analysing the text
in Rust, which is fast) and says where the matches are, in bytes. We build
the HTML ourselves from that: matches in ``<mark>``, everything else escaped
(tantivy's own ``to_html`` marks with ``<b>``). If the text has no match the
snippet is the title with its matches marked, and if neither matches, the
opening of the text. Words under ``NOT`` are never marked.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import tantivy
from tantivy import Occur, Query

from records_service.indexing._snippets import EXCERPT_CHARS, opening
from records_service.indexing._tantivy_schema import snippet_kind

TITLE_CHARS = 10_000


class Snippets:
    """Snippet makers for one search: for the text and for the title, one for each
    snippet analyzer (``searchers`` by :data:`SNIPPET_KINDS`, see ``snippet_kind``)."""

    def __init__(
        self,
        searchers: Mapping[str, tantivy.Searcher],
        schema: tantivy.Schema,
        text_terms: list[str],
        title_terms: list[str],
    ) -> None:
        self._text = {
            kind: _generator(searcher, schema, "text", text_terms, EXCERPT_CHARS)
            for kind, searcher in searchers.items()
        }
        self._title = {
            kind: _generator(searcher, schema, "title", title_terms, TITLE_CHARS)
            for kind, searcher in searchers.items()
        }

    def for_document(self, doc: tantivy.Document, text: str, title: str) -> str:
        """The text around its matches, else the marked title, else the opening."""
        for generators, source in ((self._text, text), (self._title, title)):
            generator = generators.get(snippet_kind(source))
            if generator is not None:
                marked = _marked(generator.snippet_from_doc(doc), source)
                if marked:
                    return marked
        return opening(text)


def _generator(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    field: str,
    terms: list[str],
    max_chars: int,
) -> tantivy.SnippetGenerator | None:
    if not terms:
        return None
    query = Query.boolean_query(
        [(Occur.Should, Query.term_query(schema, field, term)) for term in terms]
    )
    generator = tantivy.SnippetGenerator.create(searcher, query, schema, field)
    generator.set_max_num_chars(max_chars)
    return generator


def _marked(snippet: tantivy.Snippet, text: str) -> str:
    """The snippet's fragment as HTML, or "" if it marks nothing.

    tantivy cuts a fragment at word edges, which drops punctuation such as a full
    stop after the last word; the fragment is widened to the spaces around it.
    """
    spans = sorted((span.start, span.end) for span in snippet.highlighted())
    if not spans:
        return ""
    data = text.encode("utf-8")  # tantivy's offsets count bytes
    frame = snippet.fragment_range()
    start, end = _widened(data, frame.start, frame.end)
    pieces, done = [], start
    for span_start, span_end in spans:
        first, last = frame.start + span_start, frame.start + span_end
        if first < done:
            continue
        pieces.append(_escaped(data[done:first]))
        pieces.append(f"<mark>{_escaped(data[first:last])}</mark>")
        done = last
    pieces.append(_escaped(data[done:end]))
    return "".join(pieces).strip()


def _widened(data: bytes, start: int, end: int) -> tuple[int, int]:
    while start > 0 and not data[start - 1 : start].isspace():
        start -= 1
    while end < len(data) and not data[end : end + 1].isspace():
        end += 1
    return start, end


def _escaped(data: bytes) -> str:
    return html.escape(data.decode("utf-8", "replace"))
