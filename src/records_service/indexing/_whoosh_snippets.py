"""Highlighted snippets for search hits, as safe HTML.

Matches are wrapped in ``<mark>``; every other character is HTML-escaped, so
a snippet can be put into a page as it is. Texts run to thousands of words,
and re-analysing each one to find its matches costs tens of milliseconds per
hit, so the ``text`` field keeps the character offsets of every term and
snippets are cut around those offsets ("pinpoint" highlighting). Titles are
short and are simply re-analysed. A hit with no match in either gets the
opening of its text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

from whoosh import highlight, query
from whoosh.analysis import Token

from records_service.indexing._snippets import EXCERPT_CHARS, opening

FRAGMENTS = 2
# A wildcard such as "a*" can expand to thousands of terms; a snippet needs few.
MAX_TERMS = 64


class MarkFormatter(highlight.Formatter):  # type: ignore[misc]
    """Wraps each match in ``<mark>`` and escapes everything else."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text)

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        """Return one match, escaped and marked."""
        return f"<mark>{html.escape(highlight.get_text(text, token, replace))}</mark>"


_FORMATTER = MarkFormatter()
_SPACE = re.compile(r"\s")


def query_terms(parsed: Any, searcher: Any, fieldname: str) -> list[bytes]:
    """The indexed terms of ``fieldname`` that the query looks for, wildcards expanded.

    Terms under a ``NOT`` are left out. (Whoosh's own ``Query.existing_terms``
    loses all but the first field when asked for one field, so it is not used.)
    """
    reader = searcher.reader()
    field = searcher.schema[fieldname]
    found: set[bytes] = set()
    for leaf in _positive_leaves(parsed):
        if leaf.field() != fieldname:
            continue
        for _, text in leaf.expanded_terms(reader, phrases=True):
            term = text if isinstance(text, bytes) else field.to_bytes(text)
            if (fieldname, term) in reader:
                found.add(term)
    return sorted(found)[:MAX_TERMS]


def _positive_leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, query.Not):
        return
    if node.is_leaf():
        yield node
        return
    for child in node.children():
        yield from _positive_leaves(child)


def match_offsets(
    searcher: Any, fieldname: str, terms: Iterable[bytes], docnums: Iterable[int]
) -> dict[int, list[tuple[int, int]]]:
    """For each document, the (start, end) character offsets of the matched terms."""
    wanted = sorted(set(docnums))
    offsets: dict[int, list[tuple[int, int]]] = {docnum: [] for docnum in wanted}
    for term in terms:
        matcher = searcher.postings(fieldname, term)
        for docnum in wanted:
            if not matcher.is_active():
                break
            matcher.skip_to(docnum)
            if matcher.is_active() and matcher.id() == docnum:
                offsets[docnum].extend(
                    (start, end) for _, start, end in matcher.value_as("characters")
                )
    return offsets


def marked_fragments(text: str, offsets: list[tuple[int, int]]) -> str:
    """The best fragments of ``text`` around ``offsets``, with the matches marked."""
    if not offsets:
        return ""
    tokens = []
    for start, group in groupby(sorted(offsets), key=lambda span: span[0]):
        end = max(span[1] for span in group)
        tokens.append(Token(text=text[start:end], startchar=start, endchar=end))
    fragmenter = highlight.PinpointFragmenter(
        maxchars=EXCERPT_CHARS, surround=60, autotrim=False, charlimit=None
    )
    fragments = highlight.top_fragments(
        fragmenter.fragment_matches(text, tokens),
        FRAGMENTS,
        highlight.BasicFragmentScorer(),
        highlight.FIRST,
    )
    for fragment in fragments:
        _trim_to_words(fragment)
    return str(_FORMATTER.format(fragments)) if fragments else ""


def _trim_to_words(fragment: Any) -> None:
    # Whoosh's own autotrim also cuts the first and last word of the whole text.
    text, start, end = fragment.text, fragment.startchar, fragment.endchar
    if start > 0 and not text[start - 1].isspace():
        space = _SPACE.search(text, start, end)
        start = space.end() if space else start
    if end < len(text) and not text[end].isspace():
        spaces = [match.start() for match in _SPACE.finditer(text, start, end)]
        end = spaces[-1] if spaces else end
    if fragment.matches:
        start = min(start, fragment.matches[0].startchar)
        end = max(end, fragment.matches[-1].endchar)
    fragment.startchar, fragment.endchar = start, end


def configure(results: Any) -> None:
    """Make ``results`` mark title matches: whole title, ``<mark>`` tags, the rest escaped."""
    results.formatter = _FORMATTER
    results.fragmenter = highlight.WholeFragmenter()


def snippet_for(hit: Any, text: str, offsets: list[tuple[int, int]]) -> str:
    """Fragments of the text around its matches, else the marked title, else the opening."""
    return marked_fragments(text, offsets) or str(hit.highlights("title", top=1)) or opening(text)
