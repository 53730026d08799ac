"""Turning a :class:`SearchQuery` into Whoosh queries, and refusing malformed ones.

Whoosh's parser never fails: it drops an unclosed quote, a dangling ``AND``
or an unknown ``field:`` without a word. Here a query is checked before and
after parsing so that people learn their query was not what they meant, as a
:class:`QuerySyntaxError` whose message says what to fix. Structured filters
become Whoosh filter queries (never Python post-filtering), so totals and
facets count only what the asker may see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from whoosh import qparser, query
from whoosh.qparser import syntax

from records_service.indexing._whoosh_schema import (
    DEFAULT_FIELDS,
    FIELD_ALIASES,
    FIELD_BOOSTS,
    QUERY_FIELDS,
    day_end,
    day_start,
)
from records_service.indexing.base import (
    OFFICIAL_SENSITIVE,
    QuerySyntaxError,
    SearchQuery,
    Visibility,
)

_BINARY_OPERATORS = frozenset({"AND", "OR", "ANDNOT", "ANDMAYBE"})
_BOOLEAN_WORDS = frozenset({"t", "true", "yes", "1", "f", "false", "no", "0"})
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<phrase>"[^"]*"(?:~\d+)?)
      | (?P<quote>")
      | (?P<range>[\[{][^\[\]{}"]*[\]}])
      | (?P<bracket>[\[\]{}])
      | (?P<open>\()
      | (?P<close>\))
      | (?P<word>[^\s()"\[\]{}]+)""",
    re.VERBOSE,
)
_DANGLING_COMPARISON = re.compile(r"(?:[<>]=?|=[<>])$")
_FIELD_PREFIX = re.compile(r"^([A-Za-z_]\w*):(.*)$", re.DOTALL)
_KNOWN_FIELDS_HINT = ", ".join(sorted(QUERY_FIELDS | FIELD_ALIASES.keys()))
_DATE_FIELD = re.compile(r"\b(date|record_date|captured|captured_at):", re.IGNORECASE)
_DATE_HINT = "Dates are written YYYY, YYYY-MM or YYYY-MM-DD, for example date:[2023 TO 2024-06]."


def _unknown_field(name: str) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"unknown field '{name}:'. Known fields: {_KNOWN_FIELDS_HINT}. "
        f'To search for the text itself, put it in double quotes: "{name}:..."'
    )


def canonical_field(name: str) -> str:
    """The schema name for a field name typed in a query, or raise for an unknown one."""
    lowered = name.lower()
    canonical = FIELD_ALIASES.get(lowered, lowered)
    if canonical not in QUERY_FIELDS:
        raise _unknown_field(name)
    return canonical


class _CheckedFieldsPlugin(qparser.FieldsPlugin):  # type: ignore[misc]
    """``field:`` prefixes, case-insensitive, with aliases; unknown names are errors."""

    class FieldnameTagger(qparser.FieldsPlugin.FieldnameTagger):  # type: ignore[misc]
        def create(self, parser: Any, match: re.Match[str]) -> Any:
            return syntax.FieldnameNode(canonical_field(match.group("text")), match.group(0))

    def __init__(self) -> None:
        # Digits cannot start a field name, so "10:30" stays a time, not a field.
        super().__init__(expr=r"(?P<text>[A-Za-z_]\w*):", remove_unknown=False)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "word"
        value = match.group()
        if kind == "quote":
            raise QuerySyntaxError('a double quote (") is not closed')
        if kind == "bracket":
            raise QuerySyntaxError(
                f"unbalanced range bracket '{value}'; a range is written [start TO end]"
            )
        yield kind, value


def _check_parentheses(tokens: list[tuple[str, str]]) -> None:
    depth = 0
    for kind, _ in tokens:
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth < 0:
                raise QuerySyntaxError("a ')' has no matching '('")
    if depth:
        raise QuerySyntaxError("a '(' is not closed")


def _check_field_prefix(value: str, following: str | None) -> None:
    match = _FIELD_PREFIX.match(value)
    if not match:
        return
    name, rest = match.groups()
    field = canonical_field(name)
    if not rest and following in (None, "ws", "close"):
        raise QuerySyntaxError(f"'{name}:' must be followed by a value, with no space")
    if field == "is_current" and rest and rest.lower() not in _BOOLEAN_WORDS:
        raise QuerySyntaxError(f"'{name}:' takes true or false, not '{rest}'")


def _check_operators(tokens: list[tuple[str, str]]) -> None:
    expect_operand = True
    previous = ""
    for kind, value in tokens:
        if kind == "ws":
            continue
        if kind == "word" and value in _BINARY_OPERATORS:
            if expect_operand:
                raise QuerySyntaxError(f"'{value}' needs a term before it")
            expect_operand = True
        elif kind == "open" or (kind == "word" and value == "NOT"):
            expect_operand = True
        elif kind == "close":
            if expect_operand:
                what = "empty parentheses '()'" if previous == "(" else f"'{previous}' before ')'"
                raise QuerySyntaxError(f"{what}: something is missing")
            expect_operand = False
        elif not (kind == "word" and value.endswith(":")):
            expect_operand = False
        previous = value
    if expect_operand and previous:
        raise QuerySyntaxError(f"the query ends with '{previous}': something is missing after it")


def check_structure(text: str) -> None:
    """Raise :class:`QuerySyntaxError` for misplaced quotes, brackets, parentheses or operators."""
    tokens = list(_tokens(text))
    _check_parentheses(tokens)
    for index, (kind, value) in enumerate(tokens):
        if kind == "word":
            following = tokens[index + 1][0] if index + 1 < len(tokens) else None
            _check_field_prefix(value, following)
            if _DANGLING_COMPARISON.search(value):
                raise QuerySyntaxError(
                    f"'{value}': a comparison such as < or >= must be followed directly "
                    "by its value, as in version:>=2 or date:<2024"
                )
    _check_operators(tokens)


def _walk(node: query.Query) -> Iterator[query.Query]:
    yield node
    for child in node.children():
        yield from _walk(child)


def _check_parsed(text: str, parsed: query.Query) -> None:
    for node in _walk(parsed):
        error = getattr(node, "error", None)
        if error:
            raise _unreadable(text, str(error))
        if isinstance(node, query.NumericRange | query.TermRange):
            start, end = node.start, node.end
            if start is not None and end is not None and start > end:
                raise QuerySyntaxError(
                    f"a range on '{node.fieldname}' starts after it ends; write [low TO high]"
                )


def _parser(schema: Any) -> qparser.QueryParser:
    parser = qparser.MultifieldParser(
        list(DEFAULT_FIELDS), schema, fieldboosts=FIELD_BOOSTS, group=qparser.AndGroup
    )
    parser.remove_plugin_class(qparser.FieldsPlugin)
    parser.add_plugin(_CheckedFieldsPlugin())
    parser.add_plugin(qparser.GtLtPlugin())
    return parser


def parse_user_query(text: str, schema: Any) -> query.Query:
    """Parse a person's query string, or raise :class:`QuerySyntaxError` saying what is wrong.

    An empty (or blank) string matches every document.
    """
    if not text.strip():
        return query.Every()
    check_structure(text)
    try:
        parsed = _parser(schema).parse(text)
    except QuerySyntaxError:
        raise
    except IndexError as exc:  # Whoosh's comparison plugin, when "<" or ">=" has no value
        raise _unreadable(text, "a comparison such as < or >= has no value after it") from exc
    except Exception as exc:  # Whoosh raises assorted errors (e.g. bad dates) while parsing
        raise _unreadable(text, str(exc)) from exc
    _check_parsed(text, parsed)
    if isinstance(parsed, type(query.NullQuery)):
        raise QuerySyntaxError(
            "nothing to search for: the query holds only very common words or punctuation"
        )
    return without_andnot(parsed)


def without_andnot(node: query.Query) -> query.Query:
    """``node`` with every ``a ANDNOT b`` rewritten as ``a AND NOT b``.

    Whoosh 2.7's ``AndNotMatcher`` fails to exclude the first positive match
    when the excluded term also occurs in an earlier document (it only looks
    for a clash when both start on the same document), so ``ANDNOT`` returned
    documents it should not. ``And`` with ``Not`` uses other, correct matchers.
    """
    if isinstance(node, query.AndNot):
        return query.And(
            [without_andnot(node.a), query.Not(without_andnot(node.b))], boost=node.boost
        )
    rewritten: query.Query = node.apply(without_andnot)
    return rewritten


def _unreadable(text: str, detail: str) -> QuerySyntaxError:
    hint = f" {_DATE_HINT}" if _DATE_FIELD.search(text) else ""
    return QuerySyntaxError(f"part of the query could not be read ({detail}).{hint}")


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
        # Not AndNot: see without_andnot for the Whoosh bug that would hide the user's own
        # records.
        mine = query.Not(query.Term("captured_by", visibility.username))
        sensitive = query.And([sensitive, mine])
    return query.Or([sensitive, *named]) if named else sensitive
