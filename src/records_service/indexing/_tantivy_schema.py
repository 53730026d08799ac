"""The tantivy schema, its analyzers, its version, and documents to and from fields.

Bump :data:`SCHEMA_VERSION` whenever a field, an analyzer or a stored value
changes: an index written under another version is reported as needing a
rebuild. Every field needed to rebuild an :class:`IndexDocument` is stored,
so a version can be re-added with ``is_current`` flipped.

Prose is analysed as Whoosh analyses it (see ``_analysis``): the same words,
the same stop words, the same positions, so phrases match alike. Whoosh drops
stop words and one-letter words *without* leaving a gap in the positions;
tantivy's stop-word filter leaves one. So the tokenizer itself never matches
a stop word or a one-letter word: its pattern matches a word only when it is
not one of them (Rust's regex has no look-ahead, so the pattern spells out, letter
by letter, every way a word can differ from the stop words). The filter after
it still removes a stop word spelt with accents ("thé"), leaving a gap there.
The stemmer is Snowball's English (Porter 2); Whoosh uses the original Porter
algorithm, so a few rare words stem differently (docs/search.md).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import tantivy

from records_service.indexing._analysis import STOP_WORDS
from records_service.indexing._fields import common_values
from records_service.indexing.base import IndexDocument

SCHEMA_VERSION = 1
ENGINE = "tantivy"
PROSE = "records_prose"
KEYWORD = "records_keyword"
PROSE_FIELDS = ("title", "text", "provider", "originator")
KEYWORD_FIELDS = ("record_type", "contract_ref", "tags", "classification")
EXACT_FIELDS = ("record_id", "captured_by", "key")
NUMBER_FIELDS = ("version", "year", "record_date", "captured_at", "date_order")
FACET_FIELDS = {"record_type": "record_type_facet", "contract": "contract_facet", "year": "year"}
_EPOCH = datetime(1970, 1, 1)
_DAY_MICROS = 86_400_000_000


def _class_without(chars: list[str]) -> str:
    both = "".join(sorted({case for char in chars for case in (char.lower(), char.upper())}))
    return rf"[\w--[{both}]]"


def _either_case(char: str) -> str:
    return f"[{char.lower()}{char.upper()}]"


def _trie(words: frozenset[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for word in sorted(words):
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    return root


def _not_in(node: dict[str, Any], depth: int) -> str:
    """Word endings after a trie node's prefix that do not spell a stop word."""
    children = sorted(key for key in node if key)
    options = [f"{_class_without(children)}\\w*" if children else r"\w+"]
    options += [_either_case(char) + _not_in(node[char], depth + 1) for char in children]
    group = "(?:" + "|".join(options) + ")"
    # Stopping here is fine when the prefix is two letters or more and not a stop word.
    return group + "?" if depth >= 2 and "" not in node else group


@cache
def token_pattern() -> str:
    """Words as Whoosh reads them, never matching a stop word or a one-letter word.

    Whoosh's words are ``\\w+(\\.\\w+)*``. A word of several dot-joined parts is
    never a stop word; a single part must differ from every stop word and be
    two characters long at least.
    """
    root = _trie(STOP_WORDS)
    firsts = sorted(root)
    single = [f"{_class_without(firsts)}\\w+"]
    single += [_either_case(char) + _not_in(root[char], 1) for char in firsts]
    return rf"\b(?:(?:{'|'.join(single)})(?:\.\w+)*\b|\w+(?:\.\w+)+\b)"


def _prose_builder() -> tantivy.TextAnalyzerBuilder:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(token_pattern()))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.custom_stopword(sorted(STOP_WORDS)))
    )


@cache
def prose_analyzer() -> tantivy.TextAnalyzer:
    """The analyzer of prose fields, for the index and for query words alike."""
    return _prose_builder().filter(tantivy.Filter.stemmer("english")).build()


@cache
def keyword_analyzer() -> tantivy.TextAnalyzer:
    """Whole values, lowercased: record types, contract references, tags."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
    return builder.filter(tantivy.Filter.lowercase()).build()


def register_analyzers(index: tantivy.Index) -> None:
    """Register our analyzers on ``index`` (they are not stored in the index itself)."""
    index.register_tokenizer(PROSE, prose_analyzer())
    index.register_tokenizer(KEYWORD, keyword_analyzer())


# Whoosh's words, all of them: the tokens of token_pattern() plus stop words and
# one-letter words, with the same offsets.
ALL_WORDS = r"\w+(?:\.\w+)*"
# A dot before a letter or digit: the end of a dot-joined word if one comes before it too.
# (Starting with the literal dot lets the search skip ahead to each dot.)
_DOT_WORD = re.compile(r"\.[A-Za-z0-9]")
SNIPPET_KINDS = ("words", "plain")


def _snippet_builder(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tokenizer)
    builder = builder.filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
    return builder.filter(tantivy.Filter.stemmer("english")).build()


@cache
def snippet_analyzer(kind: str) -> tantivy.TextAnalyzer:
    """Prose analysed for snippets only: every word, then as :func:`prose_analyzer`.

    A snippet re-analyses its hit's whole text, and the indexing pattern, which
    spells out every stop word, reads text slowly. The words a snippet marks are
    never stop words or one-letter words, and every other word gets the same span
    and the same stem here, so the same words are marked; a fragment may start at
    a stop word that the index skips. ``words`` reads any text with a plain
    pattern (about twice as fast as the index's); ``plain`` is tantivy's simple
    tokenizer (about three times faster again), for text where it reads the same
    words: see :func:`snippet_kind`.
    """
    if kind == "plain":
        return _snippet_builder(tantivy.Tokenizer.simple())
    return _snippet_builder(tantivy.Tokenizer.regex(ALL_WORDS))


def snippet_kind(text: str) -> str:
    """``plain`` for ASCII text without ``_`` or dot-joined words (where a word is a run
    of letters and digits, as the simple tokenizer reads it), else ``words``."""
    if not text.isascii() or "_" in text:
        return "words"
    for found in _DOT_WORD.finditer(text):
        if found.start() and text[found.start() - 1].isalnum():
            return "words"
    return "plain"


def register_snippet_analyzers(index: tantivy.Index, kind: str) -> None:
    """Register the analyzers of an index object that only makes snippets (never writes)."""
    index.register_tokenizer(PROSE, snippet_analyzer(kind))
    index.register_tokenizer(KEYWORD, keyword_analyzer())


def build_schema() -> tantivy.Schema:
    """Return the schema for :data:`SCHEMA_VERSION`."""
    builder = tantivy.SchemaBuilder()
    for name in PROSE_FIELDS:
        builder.add_text_field(name, stored=True, tokenizer_name=PROSE)
    for name in KEYWORD_FIELDS:
        builder.add_text_field(name, stored=True, tokenizer_name=KEYWORD)
    for name in EXACT_FIELDS:
        builder.add_text_field(name, stored=name != "key", tokenizer_name="raw")
    # Facets show values as given ("OPCC-7"), so they read fields kept unlowered.
    builder.add_text_field("record_type_facet", fast=True, tokenizer_name="raw")
    builder.add_text_field("contract_facet", fast=True, tokenizer_name="raw")
    for name in NUMBER_FIELDS:
        builder.add_integer_field(name, stored=name != "date_order", indexed=True, fast=True)
    builder.add_boolean_field("is_current", stored=True, indexed=True, fast=True)
    return builder.build()


def to_document(doc: IndexDocument, schema: tantivy.Schema) -> tantivy.Document:
    """Turn a document into a tantivy document."""
    captured = micros(naive_utc(doc.captured_at))
    day = micros(datetime.combine(doc.record_date, datetime.min.time()))
    values = common_values(doc)
    values.update(
        record_type_facet=doc.record_type,
        tags=[tag.strip() for tag in doc.tags],
        record_date=day,
        captured_at=captured,
        # Newest record date first, then newest capture: one fast field to sort on.
        date_order=(day // _DAY_MICROS) * 10**13 + captured // 1000,
    )
    if doc.contract_ref:
        values["contract_ref"] = values["contract_facet"] = doc.contract_ref
    return tantivy.Document.from_dict(values, schema)


def from_stored(stored: dict[str, list[Any]]) -> IndexDocument:
    """Rebuild a document from the stored fields of one tantivy document."""

    def first(name: str) -> Any:
        values = stored.get(name) or [None]
        return values[0]

    return IndexDocument(
        record_id=first("record_id"),
        version=int(first("version")),
        is_current=bool(first("is_current")),
        title=first("title") or "",
        text=first("text") or "",
        record_type=first("record_type"),
        contract_ref=first("contract_ref"),
        provider=first("provider"),
        tags=tuple(stored.get("tags", [])),
        record_date=moment(int(first("record_date"))).date(),
        captured_at=moment(int(first("captured_at"))).replace(tzinfo=UTC),
        classification=first("classification"),
        originator=first("originator"),
        captured_by=first("captured_by"),
    )


def micros(naive: datetime) -> int:
    """Microseconds since 1970 for a naive UTC datetime."""
    return (naive - _EPOCH) // timedelta(microseconds=1)


def moment(value: int) -> datetime:
    """The naive UTC datetime ``value`` microseconds after 1970."""
    return _EPOCH + timedelta(microseconds=value)


def day_micros(day: date) -> int:
    """Midnight at the start of ``day``, in microseconds since 1970."""
    return micros(datetime.combine(day, datetime.min.time()))


def naive_utc(value: datetime) -> datetime:
    """``value`` in UTC without tzinfo; a naive input is taken to be UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
