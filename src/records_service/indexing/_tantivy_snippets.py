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

import tantivy
from tantivy import Occur, Query

from records_service.indexing._snippets import EXCERPT_CHARS, opening

TITLE_CHARS = 10_000


class Snippets:
    """Snippet makers for one search: one for the text, one for the title."""

    def __init__(
        self,
        searcher: tantivy.Searcher,
        schema: tantivy.Schema,
        text_terms: list[str],
        title_terms: list[str],
    ) -> None:
        self._text = _generator(searcher, schema, "text", text_terms, EXCERPT_CHARS)
        self._title = _generator(searcher, schema, "title", title_terms, TITLE_CHARS)

    def for_document(self, doc: tantivy.Document, text: str) -> str:
        """Fragments of the text around its matches, else the marked title, else the opening."""
        for generator in (self._text, self._title):
            if generator is not None:
                marked = _marked(generator.snippet_from_doc(doc))
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


def _marked(snippet: tantivy.Snippet) -> str:
    """The snippet's fragment as HTML, or "" if it marks nothing."""
    spans = sorted((span.start, span.end) for span in snippet.highlighted())
    if not spans:
        return ""
    fragment = snippet.fragment().encode("utf-8")  # tantivy's offsets count bytes
    pieces, done = [], 0
    for start, end in spans:
        if start < done:
            continue
        pieces.append(html.escape(fragment[done:start].decode("utf-8", "replace")))
        pieces.append(f"<mark>{html.escape(fragment[start:end].decode('utf-8', 'replace'))}</mark>")
        done = end
    pieces.append(html.escape(fragment[done:].decode("utf-8", "replace")))
    return "".join(pieces).strip()
