"""Turning a :class:`SearchQuery` into Whoosh queries.

The query text is parsed by our own parser (:mod:`records_service.indexing.query`),
which owns the syntax and every :class:`QuerySyntaxError`; this module turns
that tree into Whoosh query objects, analysing words with the schema's own
analyzers. Whoosh's query parser is not used. Structured filters become
Whoosh filter queries (never Python post-filtering), so totals and facets
count only what the asker may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whoosh import query

from records_service.indexing._whoosh_schema import day_end, day_start
from records_service.indexing.base import (
    OFFICIAL_SENSITIVE,
    SearchQuery,
    Visibility,
)
from records_service.indexing.query import (
    DateRange,
    Flag,
    NumberRange,
    Plain,
    Translator,
    Value,
    Wildcard,
    parse,
    phrase_steps,
    translate,
)


class WhooshTranslator(Translator[query.Query]):
    """Builds Whoosh queries from our query tree."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    def analyse(self, field: str, text: str) -> list[tuple[int, str]]:
        """The index terms of ``text`` in ``field`` with their positions: stemmed, folded,
        without stop words. The schema is the index's own, so an index written before
        dropped words left gaps (schema version 1) gets positions without gaps."""
        tokens = self.schema[field].analyzer(text, mode="query", positions=True)
        return [(token.pos, str(token.text)) for token in tokens]

    def term(self, field: str, token: str, boost: float) -> query.Query:
        """One analysed term."""
        return query.Term(field, token, boost=boost)

    def phrase(
        self, field: str, placed: list[tuple[int, str]], slop: int, boost: float
    ) -> query.Query:
        """:meth:`Translator.phrase`: Whoosh's ``Phrase`` when every word was typed next
        to the one before, else a chain of span queries, one for each step."""
        steps = phrase_steps(placed, slop)
        tokens = [token for _, token in placed]
        if all(step.start == 1 for step in steps):
            return query.Phrase(field, tokens, slop=slop, boost=boost)
        chain: query.Query = query.Term(field, tokens[0])
        for step, token in zip(steps, tokens[1:], strict=True):
            # The distance from the words so far to the next one, from first to last step.
            chain = query.SpanNear2(
                [chain, query.Term(field, token)], slop=step[-1], ordered=True, mindist=step[0]
            )
        if boost != 1.0:
            chain.boost = boost
        return chain

    def leaf(self, node: Plain) -> query.Query:
        """A leaf that needs no analysis."""
        if isinstance(node, Wildcard):
            prefix = node.pattern[:-1]
            if node.pattern.endswith("*") and "*" not in prefix and "?" not in prefix:
                return query.Prefix(node.field, prefix, boost=node.boost)
            return query.Wildcard(node.field, node.pattern, boost=node.boost)
        if isinstance(node, Value):
            return query.Term(node.field, node.value, boost=node.boost)
        if isinstance(node, NumberRange):
            return _number_range(node)
        if isinstance(node, DateRange):
            return query.DateRange(node.field, node.start, node.end, boost=node.boost)
        if isinstance(node, Flag):
            return query.Term(node.field, node.value)
        return query.Every()

    def all_of(self, parts: Sequence[query.Query]) -> query.Query:
        """Every part."""
        return query.And(list(parts))

    def any_of(self, parts: Sequence[query.Query]) -> query.Query:
        """Any part."""
        return query.Or(list(parts))

    def none_of(self, part: query.Query) -> query.Query:
        """Not the part. ``a ANDNOT b`` arrives as ``And`` with ``Not``, never Whoosh's AndNot."""
        return query.Not(part)

    def and_maybe(self, required: query.Query, optional: query.Query) -> query.Query:
        """``required``, ranked higher when ``optional`` matches."""
        return query.AndMaybe(required, optional)


def _number_range(node: NumberRange) -> query.Query:
    """Numbers from ``low`` to ``high``, avoiding Whoosh's broken upper bounds.

    Whoosh 2.7's ``NumericRange`` on an unsigned field matches every document as
    soon as it has an end (``version:<2`` found version 3, ``year:<=2020`` every
    year); a range open at the end is right. So ``[low TO high]`` runs as
    "from low" without "from high + 1", and one value as a term.
    """
    if node.low is not None and node.low == node.high:
        return query.Term(node.field, node.low, boost=node.boost)
    from_low = query.NumericRange(node.field, node.low or 0, None, boost=node.boost)
    if node.high is None:
        return from_low
    return query.And([from_low, query.Not(query.NumericRange(node.field, node.high + 1, None))])


def parse_user_query(text: str, schema: Any) -> query.Query:
    """Parse a person's query string into a Whoosh query, or raise :class:`QuerySyntaxError`.

    An empty (or blank) string matches every document.
    """
    return translate(parse(text), WhooshTranslator(schema))


def build_filter(search: SearchQuery) -> query.Query | None:
    """The structured filters of ``search`` as one Whoosh query, or None for no filter."""
    parts: list[query.Query] = []
    if not search.all_versions:
        parts.append(query.Term("is_current", True))
    if search.contract_ref:
        parts.append(query.Term("contract_ref", search.contract_ref.strip().lower()))
    if search.record_types:
        parts.append(query.Or([query.Term("record_type", t.lower()) for t in search.record_types]))
    parts.extend(query.Term("tags", tag.strip().lower()) for tag in search.tags)
    if search.date_from or search.date_to:
        start = day_start(search.date_from) if search.date_from else None
        end = day_end(search.date_to) if search.date_to else None
        parts.append(query.DateRange("record_date", start, end))
    if search.classification:
        parts.append(query.Term("classification", search.classification.lower()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


def build_mask(visibility: Visibility) -> query.Query | None:
    """The documents ``visibility`` must never see, as a Whoosh query, or None."""
    named = [query.Term("record_id", rid) for rid in sorted(visibility.hidden_ids)]
    if visibility.see_sensitive:
        return query.Or(named) if named else None
    sensitive: query.Query = query.Term("classification", OFFICIAL_SENSITIVE.lower())
    if visibility.username:
        # Not AndNot: Whoosh 2.7's AndNot matcher misses the exclusion for the first
        # positive match when the excluded term occurs in an earlier document, which
        # hid users' own sensitive records (tests/indexing/test_whoosh_negation.py).
        mine = query.Not(query.Term("captured_by", visibility.username))
        sensitive = query.And([sensitive, mine])
    return query.Or([sensitive, *named]) if named else sensitive
