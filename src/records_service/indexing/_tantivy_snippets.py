"""Highlighted snippets for tantivy hits, as safe HTML.

Only the hits on the page get a snippet. tantivy's ``SnippetGenerator`` picks
the best fragment of the text around the query's words (re-analysing the text
in Rust, which is fast) and says where the matches are, in bytes. We build
the HTML ourselves from that: matches in ``<mark>``, everything else escaped
(tantivy's own ``to_html`` marks with ``<b>``). If the text has no match the
snippet is the title with its matches marked, and if neither matches, the
opening of the text. Words under ``NOT`` are never marked.

Re-analysing a long text (stemming every word) was most of a search's time, so
a long text is first cut to a window around its best cluster of matches, found
by :class:`_Finder` without analysing the whole text, and tantivy picks the
fragment within that window. The marks are tantivy's either way; only the
choice of fragment may differ from one over the whole text. If the window
marks nothing (a word the finder cannot see, such as one whose first letter
carries an accent), the whole text is analysed as before.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import tantivy
from tantivy import Occur, Query

from records_service.indexing._snippets import EXCERPT_CHARS, opening
from records_service.indexing._tantivy_schema import snippet_analyzer, snippet_kind

TITLE_CHARS = 10_000
# Text given to tantivy around the best cluster of matches: half a fragment's
# length before it and one and a half after, so tantivy still chooses where
# the fragment starts.
WINDOW_BEFORE, WINDOW_AFTER = EXCERPT_CHARS // 2, 3 * EXCERPT_CHARS // 2
# Texts up to this long are analysed whole: a window would save little.
LONG_TEXT = 2 * (WINDOW_BEFORE + WINDOW_AFTER)
# Occurrences of each term the finder looks at: enough to find a cluster.
MAX_OCCURRENCES = 64
_WORD = re.compile(r"\w+")
# Letters beyond ASCII, which accent folding may turn into the start of a term.
_FOREIGN_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")
# English stemming's exceptions to "a word starts with its stem less one letter".
_YING = {"die": "dy", "lie": "ly", "tie": "ty"}
_SPACE = re.compile(r"\s")


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
        self._finder = _Finder(text_terms)

    def for_document(self, doc: tantivy.Document, text: str, title: str) -> str:
        """The text around its matches, else the marked title, else the opening."""
        return self._text_snippet(doc, text) or _mark(self._title, doc, title) or opening(text)

    def _text_snippet(self, doc: tantivy.Document, text: str) -> str:
        if not any(self._text.values()):
            return ""
        look = self._finder.look(text)
        if look.window:
            marked = _mark(self._text, tantivy.Document(text=[look.window]), look.window)
            if marked:
                return marked
        return _mark(self._text, doc, text) if look.whole else ""


def _mark(
    generators: Mapping[str, tantivy.SnippetGenerator | None], doc: tantivy.Document, source: str
) -> str:
    generator = generators.get(snippet_kind(source))
    return "" if generator is None else _marked(generator.snippet_from_doc(doc), source)


@dataclass(frozen=True)
class _Look:
    """What the finder saw in a text: a window around matches to try first, and
    whether the whole text must still be analysed if the window marks nothing."""

    window: str = ""
    whole: bool = True


_NOTHING = _Look(whole=False)


class _Finder:
    """Where the terms a snippet marks occur in a long text, without analysing it all.

    A word stems to a term only if it starts with the term less its last letter
    (``happy`` to ``happi``, ``hoping`` to ``hope``), except ``dying``, ``lying``
    and ``tying``, looked for as well. So the finder looks for those prefixes at
    the start of words in the lowercased text and stems only the words found
    there, each distinct word once per process. It can be sure a text holds no
    match only if accents cannot hide one (no letter beyond ASCII) and every
    term is a plain word (a dotted term such as ``example.org`` is one token to
    the analyzer, several to the finder); otherwise the whole text is analysed.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms = frozenset(terms)
        prefixes = {term[:-1] or term for term in self._terms}
        prefixes.update(_YING[term] for term in self._terms if term in _YING)
        self._prefixes = sorted(prefixes)
        self._plain = all(term.isalnum() for term in self._terms)

    def look(self, text: str) -> _Look:
        """Where in ``text`` its matches cluster, if it is long enough to need looking."""
        if len(text) <= LONG_TEXT or not self._terms:
            return _Look()
        lowered = text.lower()
        if len(lowered) != len(text):  # a few letters lowercase to two characters
            return _Look()
        found = sorted(self._occurrences(lowered))
        if found:
            return _Look(_cut(text, _best_cluster(found)))
        sure = self._plain and not _FOREIGN_LETTER.search(text)
        return _NOTHING if sure else _Look()

    def _occurrences(self, lowered: str) -> Iterable[tuple[int, str]]:
        for prefix in self._prefixes:
            seen, at = 0, lowered.find(prefix)
            while at >= 0 and seen < MAX_OCCURRENCES:
                if at == 0 or not lowered[at - 1].isalnum():
                    word = _WORD.match(lowered, at)
                    stem = _stem(word.group() if word else prefix)
                    if stem in self._terms:
                        seen += 1
                        yield at, stem
                at = lowered.find(prefix, at + len(prefix))


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    tokens = snippet_analyzer("words").analyze(word)
    return tokens[0] if tokens else ""


def _best_cluster(found: list[tuple[int, str]]) -> int:
    """Where the most distinct terms fall within one fragment's length (the first such)."""
    best, best_count = found[0][0], 0
    for index, (start, _) in enumerate(found):
        terms = set()
        for at, term in found[index:]:
            if at >= start + EXCERPT_CHARS:
                break
            terms.add(term)
        if len(terms) > best_count:
            best, best_count = start, len(terms)
    return best


def _cut(text: str, at: int) -> str:
    """``text`` from :data:`WINDOW_BEFORE` before ``at`` to :data:`WINDOW_AFTER` after,
    cut at spaces."""
    start, end = max(0, at - WINDOW_BEFORE), min(len(text), at + WINDOW_AFTER)
    if start > 0:
        space = _SPACE.search(text, start, at)
        start = space.end() if space else start
    if end < len(text):
        last = max(text.rfind(" ", at, end), text.rfind("\n", at, end))
        end = last if last > at else end
    return text[start:end]


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
