"""Turning a :class:`SearchQuery` into tantivy ``Query`` objects.

The text is parsed by our own parser (:mod:`records_service.indexing.query`),
never by tantivy's query parser; this module builds tantivy queries from that
tree, analysing words with the same analyzer the index uses. Structured
filters and the visibility mask become clauses of one boolean query, so
tantivy counts totals and facets only over what the asker may see. Filters
score nothing (constant score 0), so they do not change the ranking.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Iterable, Sequence

import tantivy
from tantivy import Occur, Query

from records_service.indexing._tantivy_schema import day_micros, micros, prose_analyzer
from records_service.indexing.base import OFFICIAL_SENSITIVE, SearchQuery, Visibility
from records_service.indexing.query import (
    DEFAULT_FIELDS,
    DateRange,
    Flag,
    MatchAll,
    Node,
    NumberRange,
    Phrase,
    Plain,
    Translator,
    Value,
    Wildcard,
    Words,
    parse,
    phrase_steps,
    positive_leaves,
    translate,
)

# A wildcard such as "a*" can expand to thousands of terms; a snippet needs few.
MAX_MARKED_TERMS = 64
# Beyond this many layouts a wide phrase slop uses tantivy's own (docs/search.md).
MAX_PHRASE_LAYOUTS = 256
_REGEX_SPECIAL = frozenset(".+*?()|[]{}^$#&-~\\")


class TantivyTranslator(Translator[Query]):
    """Builds tantivy queries from our query tree."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self.schema = schema

    def analyse(self, field: str, text: str) -> list[tuple[int, str]]:
        """The index terms of ``text`` with their positions: stemmed, folded, no stop words."""
        return [
            (token.position, token.text) for token in prose_analyzer().pre_tokenize(text).tokens
        ]

    def term(self, field: str, token: str, boost: float) -> Query:
        """One analysed term."""
        return _boosted(Query.term_query(self.schema, field, token), boost)

    def phrase(self, field: str, placed: list[tuple[int, str]], slop: int, boost: float) -> Query:
        """:meth:`Translator.phrase`: every layout of the words the steps allow, each an
        exact phrase, while there are few enough of them.

        tantivy's own slop counts positions in any direction and, from 2 on, also
        accepts the words in the other order; it is used only for a phrase too wide
        to spell out (docs/search.md).
        """
        steps = phrase_steps(placed, slop)
        tokens = [token for _, token in placed]
        if slop ** len(steps) > MAX_PHRASE_LAYOUTS:
            at = [(position - placed[0][0], token) for position, token in placed]
            words: list[str | tuple[int, str]] = list(at)
            return _boosted(Query.phrase_query(self.schema, field, words, slop - 1), boost)
        exact = []
        for layout in itertools.product(*steps):
            offsets = itertools.accumulate(layout, initial=0)
            exact.append(
                Query.phrase_query(self.schema, field, list(zip(offsets, tokens, strict=True)), 0)
            )
        return _boosted(exact[0] if len(exact) == 1 else self.any_of(exact), boost)

    def leaf(self, node: Plain) -> Query:
        """A leaf that needs no analysis."""
        if isinstance(node, Wildcard):
            assert node.field is not None  # the default fields are spread out before
            regex = wildcard_regex(node.pattern)
            return _boosted(Query.regex_query(self.schema, node.field, regex), node.boost)
        if isinstance(node, Value):
            return _boosted(Query.term_query(self.schema, node.field, node.value), node.boost)
        if isinstance(node, NumberRange):
            return self.number_range(node.field, node.low, node.high)
        if isinstance(node, DateRange):
            start = micros(node.start) if node.start else None
            end = micros(node.end) if node.end else None
            return self.number_range(node.field, start, end)
        if isinstance(node, Flag):
            return Query.term_query(self.schema, node.field, node.value)
        assert isinstance(node, MatchAll)
        return Query.all_query()

    def number_range(self, field: str, low: int | None, high: int | None) -> Query:
        """Integers from ``low`` to ``high`` inclusive (None is open)."""
        if low is not None and high is not None and low > high:
            return Query.empty_query()
        return Query.range_query(
            self.schema, field, tantivy.FieldType.Integer, low, high, True, True
        )

    def all_of(self, parts: Sequence[Query]) -> Query:
        """Every part."""
        return Query.boolean_query([(Occur.Must, part) for part in parts])

    def any_of(self, parts: Sequence[Query]) -> Query:
        """Any part."""
        return Query.boolean_query([(Occur.Should, part) for part in parts])

    def none_of(self, part: Query) -> Query:
        """Every document the part does not match."""
        return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, part)])

    def and_maybe(self, required: Query, optional: Query) -> Query:
        """``required``, ranked higher when ``optional`` matches."""
        return Query.boolean_query([(Occur.Must, required), (Occur.Should, optional)])


def _boosted(query: Query, boost: float) -> Query:
    return query if boost == 1.0 else Query.boost_query(query, boost)


def wildcard_regex(pattern: str) -> str:
    """A ``*``/``?`` pattern as a tantivy (Rust) regex matching whole terms."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append("\\" + char if char in _REGEX_SPECIAL else char)
    return "".join(parts)


def build_query(
    tree: Node, search: SearchQuery, visibility: Visibility, schema: tantivy.Schema
) -> Query:
    """The user's query, its filters and the visibility mask as one tantivy query."""
    clauses = [(Occur.Must, translate(tree, TantivyTranslator(schema)))]
    clauses += [(Occur.Must, Query.const_score_query(f, 0.0)) for f in _filters(search, schema)]
    clauses += [(Occur.MustNot, mask) for mask in _masks(visibility, schema)]
    return Query.boolean_query(clauses)


def parse_tree(text: str) -> Node:
    """Our parse of the query text (raises :class:`QuerySyntaxError`)."""
    return parse(text)


def _filters(search: SearchQuery, schema: tantivy.Schema) -> list[Query]:
    def term(field: str, value: object) -> Query:
        return Query.term_query(schema, field, value)

    parts: list[Query] = []
    if not search.all_versions:
        parts.append(term("is_current", True))
    if search.contract_ref:
        parts.append(term("contract_ref", search.contract_ref.strip().lower()))
    if search.record_types:
        parts.append(
            Query.term_set_query(schema, "record_type", [t.lower() for t in search.record_types])
        )
    parts.extend(term("tags", tag.strip().lower()) for tag in search.tags)
    if search.date_from or search.date_to:
        start = day_micros(search.date_from) if search.date_from else None
        end = day_micros(search.date_to) if search.date_to else None
        parts.append(TantivyTranslator(schema).number_range("record_date", start, end))
    if search.classification:
        parts.append(term("classification", search.classification.lower()))
    return parts


def _masks(visibility: Visibility, schema: tantivy.Schema) -> list[Query]:
    masks: list[Query] = []
    if visibility.hidden_ids:
        masks.append(Query.term_set_query(schema, "record_id", sorted(visibility.hidden_ids)))
    if not visibility.see_sensitive:
        sensitive = Query.term_query(schema, "classification", OFFICIAL_SENSITIVE.lower())
        if visibility.username:
            mine = Query.term_query(schema, "captured_by", visibility.username)
            sensitive = Query.boolean_query([(Occur.Must, sensitive), (Occur.MustNot, mine)])
        masks.append(sensitive)
    return masks


def marked_terms(tree: Node, field: str, searcher: tantivy.Searcher) -> list[str]:
    """The index terms of ``field`` a snippet should mark: positive words, wildcards expanded."""
    found: set[str] = set()
    for leaf in positive_leaves(tree):
        if isinstance(leaf, Words | Phrase) and leaf.field in (None, field):
            if leaf.field is None and field not in DEFAULT_FIELDS:
                continue
            found.update(prose_analyzer().analyze(leaf.text))
        elif isinstance(leaf, Wildcard) and leaf.field in (None, field):
            found.update(_expand(leaf.pattern, field, searcher))
    return sorted(found)[:MAX_MARKED_TERMS]


def _expand(pattern: str, field: str, searcher: tantivy.Searcher) -> Iterable[str]:
    literal = pattern.split("*", 1)[0].split("?", 1)[0]
    terms = searcher.terms_with_prefix(field, literal, limit=10 * MAX_MARKED_TERMS)
    return [term for term, _ in terms if fnmatch.fnmatchcase(term, pattern)][:MAX_MARKED_TERMS]
