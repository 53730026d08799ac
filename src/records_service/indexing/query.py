"""Our query language, parsed into an engine-neutral tree, with its refusals.

This module owns the syntax documented in docs/search.md (words, phrases
with slop, wildcards, ``field:value`` with aliases, dates, ranges and
comparisons, ``AND``/``OR``/``NOT``/``ANDNOT``/``ANDMAYBE`` and grouping) and
every :class:`QuerySyntaxError` a person can get for the text they typed.
Each engine turns the tree into its own query objects through
:func:`translate`, so both engines run the same query; user text never
reaches an engine's own query parser.

Operators bind as Whoosh's parser bound them: ``NOT`` tightest, then
``AND``, then ``OR``, then ``ANDNOT`` and ``ANDMAYBE``, and words side by
side (an implicit ``AND``) loosest. Words are kept as typed: analysis
(stemming, stop words) belongs to the engine and is applied by the
translator, so a query of only common words is refused there.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Generic, Literal, TypeVar

from records_service.indexing.base import QuerySyntaxError

FieldKind = Literal["prose", "keyword", "exact", "number", "date", "boolean"]
FIELD_KINDS: dict[str, FieldKind] = {
    "title": "prose",
    "text": "prose",
    "provider": "prose",
    "originator": "prose",
    "record_type": "keyword",
    "contract_ref": "keyword",
    "tags": "keyword",
    "classification": "keyword",
    "record_id": "exact",
    "captured_by": "exact",
    "version": "number",
    "year": "number",
    "record_date": "date",
    "captured_at": "date",
    "is_current": "boolean",
}
QUERY_FIELDS = frozenset(FIELD_KINDS)
FIELD_ALIASES = {
    "id": "record_id",
    "current": "is_current",
    "type": "record_type",
    "contract": "contract_ref",
    "tag": "tags",
    "date": "record_date",
    "captured": "captured_at",
}
DEFAULT_FIELDS = ("title", "text", "provider")
FIELD_BOOSTS = {"title": 2.0}
PHRASE_FIELDS = "title, text, provider and originator"
# Numbers are kept as unsigned 32-bit values (Whoosh's NUMERIC field).
MAX_NUMBER = 2**32 - 1

# -- the tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """Text typed for a prose field (or the default fields when ``field`` is None).

    The engine analyses ``text``; several tokens must all occur in one field.
    """

    field: str | None
    text: str
    boost: float = 1.0


@dataclass(frozen=True)
class Phrase:
    """Words in order; ``slop`` is the largest gap between neighbours (1 = adjacent)."""

    field: str | None
    text: str
    slop: int = 1
    boost: float = 1.0


@dataclass(frozen=True)
class Wildcard:
    """A ``*``/``?`` pattern matched against whole indexed terms (already normalised)."""

    field: str | None
    pattern: str
    boost: float = 1.0


@dataclass(frozen=True)
class Value:
    """One exact term of a keyword or exact field, normalised as the field stores it."""

    field: str
    value: str
    boost: float = 1.0


@dataclass(frozen=True)
class NumberRange:
    """Numbers from ``low`` to ``high``, both inclusive; None is open."""

    field: str
    low: int | None
    high: int | None
    boost: float = 1.0


@dataclass(frozen=True)
class DateRange:
    """Moments (naive UTC) from ``start`` to ``end``, both inclusive; None is open."""

    field: str
    start: datetime | None
    end: datetime | None
    boost: float = 1.0


@dataclass(frozen=True)
class Flag:
    """``is_current`` is ``value``."""

    field: str
    value: bool


@dataclass(frozen=True)
class MatchAll:
    """Every document (``*:*``, or ``*`` on a number or date field)."""


@dataclass(frozen=True)
class And:
    """Every part matches."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any part matches."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Documents the part does not match."""

    part: Node


@dataclass(frozen=True)
class AndNot:
    """``include`` without what ``exclude`` matches; nothing if ``include`` is only stop words."""

    include: Node
    exclude: Node


@dataclass(frozen=True)
class AndMaybe:
    """``required``, ranked higher when ``optional`` matches too."""

    required: Node
    optional: Node


# Leaves an engine builds without analysing any words.
Plain = Wildcard | Value | NumberRange | DateRange | Flag | MatchAll
Leaf = Words | Phrase | Plain
Node = Leaf | And | Or | Not | AndNot | AndMaybe

# -- tokens and the checks before parsing -----------------------------------------------

_BINARY_OPERATORS = frozenset({"AND", "OR", "ANDNOT", "ANDMAYBE"})
_BOOLEAN_WORDS = {"t": True, "true": True, "yes": True, "1": True}
_BOOLEAN_WORDS |= {"f": False, "false": False, "no": False, "0": False}
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
_COMPARISON = re.compile(r"^(<=|>=|=<|=>|<|>)(.*)$", re.DOTALL)
_FIELD_PREFIX = re.compile(r"^([A-Za-z_]\w*):(.*)$", re.DOTALL)
_BOOST = re.compile(r"^(.+?)\^(\d*(?:\.\d+)?)$", re.DOTALL)
_PREFIXES_ONLY = re.compile(r"(?:[A-Za-z_]\w*:)+")
_BOOST_ALONE = re.compile(r"\^\d*(?:\.\d+)?")
_PHRASE = re.compile(r'"([^"]*)"(?:~(\d+))?')
# As Whoosh read ranges: the first "to", in any case, splits start from end.
_RANGE = re.compile(r"^([\[{])(.*?)to(.*)([\]}])$", re.DOTALL | re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_KNOWN_FIELDS_HINT = ", ".join(sorted(QUERY_FIELDS | FIELD_ALIASES.keys()))
_DATE_FIELD = re.compile(r"\b(date|record_date|captured|captured_at):", re.IGNORECASE)
_DATE_HINT = "Dates are written YYYY, YYYY-MM or YYYY-MM-DD, for example date:[2023 TO 2024-06]."
_NOTHING = "nothing to search for: the query holds only very common words or punctuation"


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    joined: bool  # directly after the previous token, with no space between


def _unknown_field(name: str) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"unknown field '{name}:'. Known fields: {_KNOWN_FIELDS_HINT}. "
        f'To search for the text itself, put it in double quotes: "{name}:..."'
    )


def canonical_field(name: str) -> str:
    """The field name for a name typed in a query, or raise for an unknown one."""
    lowered = name.lower()
    canonical = FIELD_ALIASES.get(lowered, lowered)
    if canonical not in QUERY_FIELDS:
        raise _unknown_field(name)
    return canonical


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


def check_structure(text: str) -> list[_Token]:
    """Refuse misplaced quotes, brackets, parentheses or operators; return the tokens."""
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
    joined: list[_Token] = []
    previous = "ws"
    for kind, value in tokens:
        if kind != "ws":
            joined.append(_Token(kind, value, previous != "ws"))
        previous = kind
    return joined


def unreadable(text: str, detail: str) -> QuerySyntaxError:
    """The refusal for a value a field cannot read, with a hint when dates are involved."""
    hint = f" {_DATE_HINT}" if _DATE_FIELD.search(text) else ""
    return QuerySyntaxError(f"part of the query could not be read ({detail}).{hint}")


def nothing_to_search() -> QuerySyntaxError:
    """The refusal for a query that is only common words or punctuation."""
    return QuerySyntaxError(_NOTHING)


def phrase_refused(field: str) -> QuerySyntaxError:
    """The refusal for a phrase on a field that keeps no word positions."""
    return QuerySyntaxError(
        f"the query cannot be run (Phrase search: {field!r} field has no positions); "
        f"quoted phrases work in {PHRASE_FIELDS}"
    )


# -- parsing ---------------------------------------------------------------------------


def parse(text: str) -> Node:
    """Parse a person's query text, or raise :class:`QuerySyntaxError` saying what is wrong.

    A blank string matches every document.
    """
    if not text.strip():
        return MatchAll()
    tokens = check_structure(text)
    parser = _Parser(text, tokens)
    node = parser.group(None, until_close=False)
    if node is None:
        raise nothing_to_search()
    return node


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.at = 0

    def _next(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def group(self, field: str | None, *, until_close: bool) -> Node | None:
        items: list[Node | str] = []
        while (token := self._next()) is not None:
            self.at += 1
            if token.kind == "close":
                if until_close:
                    break
                raise QuerySyntaxError("a ')' has no matching '('")
            if token.kind == "word" and token.value in _BINARY_OPERATORS | {"NOT"}:
                items.append(token.value)
                continue
            node = self.operand(token, field)
            if node is not None:
                items.append(self._boosted(node))
        return _combine(items)

    def _boosted(self, node: Node) -> Node:
        # "^2" straight after a phrase, range or group boosts it.
        token = self._next()
        if token and token.joined and token.kind == "word" and _BOOST_ALONE.fullmatch(token.value):
            self.at += 1
            return _with_boost(node, _boost_of(token.value[1:]))
        return node

    def operand(self, token: _Token, field: str | None) -> Node | None:
        if token.kind == "open":
            return self.group(field, until_close=True)
        if token.kind == "phrase":
            return _phrase(token.value, field)
        if token.kind == "range":
            return _range(self.text, token.value, field)
        if _PREFIXES_ONLY.fullmatch(token.value):
            # "title:" (or "title:date:", where the last name counts) before a phrase,
            # range or group.
            names = [canonical_field(name) for name in token.value.split(":")[:-1]]
            following = self._next()
            if following is None or not following.joined:  # refused by check_structure
                raise QuerySyntaxError(f"'{token.value}' must be followed by a value")
            self.at += 1
            return self.operand(following, names[-1])
        return _word(self.text, token.value, field)


def _combine(items: list[Node | str]) -> Node | None:
    items = _apply_not(items)
    for operator in ("AND", "OR", "ANDNOT", "ANDMAYBE"):
        items = _apply_binary(items, operator)
    nodes = [item for item in items if not isinstance(item, str)]
    if len(nodes) != len(items):
        raise QuerySyntaxError("an operator has nothing on one side")
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _apply_not(items: list[Node | str]) -> list[Node | str]:
    result: list[Node | str] = []
    for item in reversed(items):
        if item == "NOT":
            if not result or isinstance(result[-1], str):
                raise QuerySyntaxError("'NOT' needs a term after it")
            result[-1] = Not(result[-1])
        else:
            result.append(item)
    return list(reversed(result))


def _apply_binary(items: list[Node | str], operator: str) -> list[Node | str]:
    result: list[Node | str] = []
    index = 0
    while index < len(items):
        item = items[index]
        if item == operator:
            if not result or isinstance(result[-1], str) or index + 1 >= len(items):
                raise QuerySyntaxError(f"'{operator}' needs a term on each side")
            right = items[index + 1]
            if isinstance(right, str):
                raise QuerySyntaxError(f"'{operator}' needs a term on each side")
            result[-1] = _join(operator, result[-1], right)
            index += 2
            continue
        result.append(item)
        index += 1
    return result


def _join(operator: str, left: Node, right: Node) -> Node:
    if operator == "AND":
        return And((*left.parts, right)) if isinstance(left, And) else And((left, right))
    if operator == "OR":
        return Or((*left.parts, right)) if isinstance(left, Or) else Or((left, right))
    if operator == "ANDNOT":
        return AndNot(left, right)
    return AndMaybe(left, right)


def _boost_of(text: str) -> float:
    try:
        return float(text) if text else 1.0
    except ValueError:
        return 1.0


def _with_boost(node: Node, boost: float) -> Node:
    if isinstance(node, Words | Phrase | Wildcard | Value | NumberRange | DateRange):
        return replace(node, boost=node.boost * boost)
    return node


def _phrase(token: str, field: str | None) -> Node | None:
    match = _PHRASE.fullmatch(token)
    assert match is not None  # the tokenizer matched the same pattern
    words, slop_text = match.groups()
    slop = max(1, int(slop_text)) if slop_text else 1
    kind = FIELD_KINDS[field] if field else "prose"
    if kind == "prose":
        return Phrase(field, words, slop) if words.strip() else None
    if not words.strip():
        return None
    if field == "tags" and "," in words:
        raise phrase_refused(field)
    return _field_value(words, words.strip(), field, kind)


def _word(text: str, word: str, field: str | None) -> Node | None:
    boost = 1.0
    boosted = _BOOST.match(word)
    if boosted:
        word, boost = boosted.group(1), _boost_of(boosted.group(2))
    if word == "*:*":
        return MatchAll()
    prefix = _FIELD_PREFIX.match(word)
    if prefix:
        name, rest = prefix.groups()
        return _with_boost_opt(_word(text, rest, canonical_field(name)), boost)
    kind: FieldKind = FIELD_KINDS[field] if field else "prose"
    return _with_boost_opt(_field_value(text, word, field, kind), boost)


def _with_boost_opt(node: Node | None, boost: float) -> Node | None:
    return _with_boost(node, boost) if node is not None and boost != 1.0 else node


def _field_value(text: str, word: str, field: str | None, kind: FieldKind) -> Node | None:
    if kind == "prose":
        if "*" in word or "?" in word:
            return Wildcard(field, fold(word.lower()))
        return Words(field, word)
    assert field is not None  # only prose has a default
    if kind in ("keyword", "exact"):
        value = word.lower() if kind == "keyword" else word
        if "*" in value or "?" in value:
            return Wildcard(field, value)
        if field == "tags" and "," in value:
            parts = [Value(field, part.strip()) for part in value.split(",") if part.strip()]
            return And(tuple(parts)) if len(parts) > 1 else (parts[0] if parts else None)
        return Value(field, value)
    if kind == "boolean":
        flag = _BOOLEAN_WORDS.get(word.lower())
        if flag is None:
            raise QuerySyntaxError(f"'{field}:' takes true or false, not '{word}'")
        return Flag(field, flag)
    if word == "*":
        return MatchAll()
    comparison = _COMPARISON.match(word)
    if comparison:
        return _compare(text, field, kind, comparison.group(1), comparison.group(2))
    if kind == "number":
        number = _number(word, "")
        return NumberRange(field, number, number)
    start, end = _moment_span(text, word)
    return DateRange(field, start, end)


def _compare(text: str, field: str, kind: FieldKind, operator: str, value: str) -> Node:
    above = ">" in operator
    inclusive = "=" in operator
    if kind == "number":
        number = _number(value, "Range start " if above else "Range end ")
        if above:
            return NumberRange(field, number if inclusive else number + 1, None)
        return NumberRange(field, None, number if inclusive else number - 1)
    start, end = _moment_span(text, value)
    if above:
        return DateRange(field, start if inclusive else end + timedelta(microseconds=1), None)
    return DateRange(field, None, end if inclusive else start - timedelta(microseconds=1))


def _range(text: str, token: str, field: str | None) -> Node:
    match = _RANGE.match(token)
    kind = FIELD_KINDS[field] if field else "prose"
    if field is None or kind not in ("number", "date"):
        raise QuerySyntaxError(
            f"'{token}': ranges work on dates and numbers, "
            "as in date:[2023 TO 2024-06] or version:[1 TO 3]"
        )
    if not match:
        raise QuerySyntaxError(f"'{token}': a range is written [start TO end]")
    opener, low_text, high_text, closer = (part.strip() for part in match.groups())
    if kind == "number":
        low = _number(low_text, "Range start ") if low_text else None
        high = _number(high_text, "Range end ") if high_text else None
        _check_order(field, low, high)
        low = low + 1 if low is not None and opener == "{" else low
        high = high - 1 if high is not None and closer == "}" else high
        return NumberRange(field, low, high)
    if not low_text and not high_text:
        raise unreadable(text, "'' is not a parseable date")
    low_span = _moment_span(text, low_text) if low_text else None
    high_span = _moment_span(text, high_text) if high_text else None
    _check_order(field, low_span and low_span[0], high_span and high_span[1])
    start = low_span and (low_span[1] + _TICK if opener == "{" else low_span[0])
    end = high_span and (high_span[0] - _TICK if closer == "}" else high_span[1])
    return DateRange(field, start, end)


_TICK = timedelta(microseconds=1)
_Comparable = TypeVar("_Comparable", int, datetime)


def _check_order(field: str, low: _Comparable | None, high: _Comparable | None) -> None:
    if low is not None and high is not None and low > high:
        raise QuerySyntaxError(f"a range on '{field}' starts after it ends; write [low TO high]")


def _number(text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text) or int(text) > MAX_NUMBER:
        raise QuerySyntaxError(
            f"part of the query could not be read ({what}{text!r} is not a valid number)."
        )
    return int(text)


def _moment_span(text: str, value: str) -> tuple[datetime, datetime]:
    """The first and last microsecond of the year, month or day ``value`` names."""
    match = _DATE.match(value)
    if not match:
        raise unreadable(text, f"{value!r} is not a parseable date")
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    try:
        if month is None:
            first, last = date(year, 1, 1), date(year, 12, 31)
        elif day is None:
            first = date(year, month, 1)
            following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            last = following - timedelta(days=1)
        else:
            first = last = date(year, month, day)
    except (ValueError, OverflowError) as exc:
        raise unreadable(text, str(exc)) from exc
    return datetime.combine(first, time.min), datetime.combine(last, time.max)


def fold(text: str) -> str:
    """``text`` without accents, as both engines index prose (``café`` becomes ``cafe``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# -- translating to an engine ---------------------------------------------------------------

Q = TypeVar("Q")


class Translator(Generic[Q]):
    """What an engine supplies to turn the tree into its query objects.

    ``analyse`` turns prose into the engine's index terms, each with its position
    (common and one-letter words are dropped but keep their places, so positions
    may skip). Leaves that analyse to nothing (only common words) are dropped, as
    are groups left empty.
    """

    def analyse(self, field: str, text: str) -> list[tuple[int, str]]:
        raise NotImplementedError

    def term(self, field: str, token: str, boost: float) -> Q:
        raise NotImplementedError

    def phrase(self, field: str, placed: list[tuple[int, str]], slop: int, boost: float) -> Q:
        """Terms at their places, each ``step`` to ``step + slop - 1`` positions after the
        one before, where ``step`` is the distance in ``placed`` (see :func:`phrase_steps`)."""
        raise NotImplementedError

    def leaf(self, node: Plain) -> Q:
        raise NotImplementedError

    def all_of(self, parts: Sequence[Q]) -> Q:
        raise NotImplementedError

    def any_of(self, parts: Sequence[Q]) -> Q:
        raise NotImplementedError

    def none_of(self, part: Q) -> Q:
        raise NotImplementedError

    def and_maybe(self, required: Q, optional: Q) -> Q:
        raise NotImplementedError


def translate(node: Node, translator: Translator[Q]) -> Q:
    """``node`` as the engine's query, or :class:`QuerySyntaxError` if nothing is left."""
    result = _translate(node, translator)
    if result is None:
        raise nothing_to_search()
    return result


def _translate(node: Node, tr: Translator[Q]) -> Q | None:
    if isinstance(node, And | Or):
        parts = [q for q in (_translate(part, tr) for part in node.parts) if q is not None]
        if len(parts) <= 1:
            return parts[0] if parts else None
        return tr.all_of(parts) if isinstance(node, And) else tr.any_of(parts)
    if isinstance(node, Not):
        inner = _translate(node.part, tr)
        return None if inner is None else tr.none_of(inner)
    if isinstance(node, AndNot):
        include, exclude = _translate(node.include, tr), _translate(node.exclude, tr)
        if include is None or exclude is None:
            return include
        return tr.all_of([include, tr.none_of(exclude)])
    if isinstance(node, AndMaybe):
        required, optional = _translate(node.required, tr), _translate(node.optional, tr)
        if required is None or optional is None:
            return required
        return tr.and_maybe(required, optional)
    if isinstance(node, Words | Phrase) or (isinstance(node, Wildcard) and node.field is None):
        return _per_field(node, tr)
    return tr.leaf(node)


def _per_field(node: Words | Phrase | Wildcard, tr: Translator[Q]) -> Q | None:
    if node.field is not None:
        return _in_field(tr, node.field, node, node.boost)
    parts = [
        q
        for field in DEFAULT_FIELDS
        if (q := _in_field(tr, field, node, node.boost * FIELD_BOOSTS.get(field, 1.0))) is not None
    ]
    if len(parts) <= 1:
        return parts[0] if parts else None
    return tr.any_of(parts)


def _in_field(
    tr: Translator[Q], field: str, node: Words | Phrase | Wildcard, boost: float
) -> Q | None:
    if isinstance(node, Wildcard):
        return tr.leaf(Wildcard(field, node.pattern, boost))
    placed = tr.analyse(field, node.text)
    if not placed:
        return None
    if isinstance(node, Phrase) and len(placed) > 1:
        return tr.phrase(field, placed, node.slop, boost)
    terms = [tr.term(field, token, boost) for _, token in placed]
    return terms[0] if len(terms) == 1 else tr.all_of(terms)


def phrase_steps(placed: list[tuple[int, str]], slop: int) -> list[range]:
    """The steps each word of a phrase may be after the one before.

    A word typed right after the one before is 1 step after it; a common word
    between them makes it 2. ``slop`` N allows N - 1 steps more.
    """
    return [
        range(after[0] - before[0], after[0] - before[0] + slop)
        for before, after in itertools.pairwise(placed)
    ]


def positive_leaves(node: Node) -> Iterator[Leaf]:
    """The leaves of ``node`` not under a ``NOT``: what a snippet may mark."""
    if isinstance(node, Not):
        return
    if isinstance(node, And | Or):
        for part in node.parts:
            yield from positive_leaves(part)
    elif isinstance(node, AndNot):
        yield from positive_leaves(node.include)
    elif isinstance(node, AndMaybe):
        yield from positive_leaves(node.required)
        yield from positive_leaves(node.optional)
    else:
        yield node
