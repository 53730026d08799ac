"""The tantivy schema, its analyzers, its version, and documents to and from fields.

Bump :data:`SCHEMA_VERSION` whenever a field, an analyzer or a stored value
changes: an index written under another version is reported as needing a
rebuild. Every field needed to rebuild an :class:`IndexDocument` is stored,
so a version can be re-added with ``is_current`` flipped.

Prose is analysed as Whoosh analyses it (see ``_analysis``): the same words,
the same stop words, the same positions, so phrases match alike. Stop words and
one-letter words are dropped by a stop-word filter, which leaves a gap in the
positions where each was; Whoosh's stop filter does the same (``renumber=False``).
A rebuild reads text whose words the simple tokenizer finds alike with that
faster tokenizer (:func:`plain_prose_analyzer`). The stemmer is Snowball's
English (Porter 2); Whoosh uses the original Porter algorithm, so a few rare
words stem differently (docs/search.md).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import tantivy

from records_service.indexing._analysis import STOP_WORDS
from records_service.indexing._fields import common_values
from records_service.indexing.base import IndexDocument

SCHEMA_VERSION = 2
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


# Whoosh's words: runs of letters, digits and "_", joined by single dots (``e.g``).
WORDS = r"\w+(?:\.\w+)*"
_ALPHABETS_END = 0x3000
_WORD_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Pc", "Cf"})
# Every assigned word character is in planes 0 to 3 or among the variation
# selectors of plane 14; the planes between are unassigned, 15 and 16 private.
# (Surrogates are not characters.)
_CODE_POINTS = (range(0xD800), range(0xE000, 0x3_2400), range(0xE_0000, 0xE_1000))


def _characters() -> str:
    return "".join(chr(code) for codes in _CODE_POINTS for code in codes)


@cache
def one_letter_words() -> tuple[str, ...]:
    """The one-letter words the stop-word filter drops (there is no filter for length).

    Every letter, digit, mark and joiner below U+3000, lowercased: the alphabets
    (Latin, Greek, Cyrillic, Arabic, Hebrew, the Indic scripts …). Accent folding
    turns a letter from above, such as a full-width one, into ASCII. A lone CJK
    ideograph or Hangul syllable is kept: listing them all would cost every
    process tens of megabytes (docs/search.md, "Where the engines differ").
    """
    words: set[str] = set()
    for code in range(_ALPHABETS_END):
        char = chr(code)
        if char.isalnum() or unicodedata.category(char) in _WORD_CATEGORIES:
            words.update((char, char.lower()))
    return tuple(sorted(word for word in words if len(word) == 1))


def unstemmed_builder(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzerBuilder:
    """Prose analysis up to stemming: lowercased, folded, without stop and one-letter words."""
    builder = tantivy.TextAnalyzerBuilder(tokenizer)
    builder = builder.filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
    stop = tantivy.Filter.custom_stopword([*sorted(STOP_WORDS), *one_letter_words()])
    return builder.filter(stop)


def _prose_builder(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzer:
    return unstemmed_builder(tokenizer).filter(tantivy.Filter.stemmer("english")).build()


@cache
def prose_analyzer() -> tantivy.TextAnalyzer:
    """The analyzer of prose fields, for the index and for query words alike.

    Whoosh's words, lowercased and accent-folded; stop words and one-letter words
    are dropped, each leaving a gap in the positions; then English stemming.
    """
    return _prose_builder(tantivy.Tokenizer.regex(WORDS))


@cache
def plain_prose_analyzer() -> tantivy.TextAnalyzer:
    """:func:`prose_analyzer` on tantivy's simple tokenizer, for :func:`plain_text` only.

    The simple tokenizer (runs of letters and digits) reads text about five times
    faster than the word pattern; on plain text it finds the same words with the
    same positions, so the index gets the same terms either way.
    """
    return _prose_builder(tantivy.Tokenizer.simple())


# Characters on which "runs of letters and digits" and \w differ, or may: "_" and
# other connectors, marks, other numbers ("²"), format characters (joiners).
_UNEQUAL_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Pc", "No", "Cf"})


@cache
def _unequal_characters() -> re.Pattern[str]:
    ranges: list[list[str]] = []
    for char in _characters()[0x80:]:  # ASCII: see plain_text
        if unicodedata.category(char) in _UNEQUAL_CATEGORIES:
            if ranges and ord(ranges[-1][1]) == ord(char) - 1:
                ranges[-1][1] = char
            else:
                ranges.append([char, char])
    spans = "".join(f"{re.escape(first)}-{re.escape(last)}" for first, last in ranges)
    return re.compile(f"[_{spans}]")


# A dot between word characters, or any non-ASCII ones (Python's \w misses a few
# that are letters to Rust, such as "Ⓐ"). The dot comes first so that the search
# skips from dot to dot.
_DOTTED = re.compile(r"\.(?<=[\w\x80-\U0010ffff]\.)[\w\x80-\U0010ffff]")


def plain_text(text: str) -> bool:
    """True if tantivy's simple tokenizer reads exactly the words :data:`WORDS` reads.

    That is text without dot-joined words, and without ``_``, marks, joiners or
    numbers such as ``²``, where the two differ on what a word character is. Any
    other character is a word character to both or to neither.
    """
    if _DOTTED.search(text):
        return False
    if text.isascii():
        return "_" not in text
    return not _unequal_characters().search(text)


@cache
def keyword_analyzer() -> tantivy.TextAnalyzer:
    """Whole values, lowercased: record types, contract references, tags."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
    return builder.filter(tantivy.Filter.lowercase()).build()


def register_analyzers(index: tantivy.Index, *, plain: bool = False) -> None:
    """Register our analyzers on ``index`` (they are not stored in the index itself).

    ``plain`` registers :func:`plain_prose_analyzer` for prose: only for a writer
    that is given nothing but :func:`plain_text` (see ``TantivySearchIndex.rebuild``).
    """
    index.register_tokenizer(PROSE, plain_prose_analyzer() if plain else prose_analyzer())
    index.register_tokenizer(KEYWORD, keyword_analyzer())


ALL_WORDS = WORDS  # every word, stop words included: what snippets read
SNIPPET_KINDS = ("words", "plain")


def _snippet_builder(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tokenizer)
    builder = builder.filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
    return builder.filter(tantivy.Filter.stemmer("english")).build()


@cache
def snippet_analyzer(kind: str) -> tantivy.TextAnalyzer:
    """Prose analysed for snippets only: every word, then as :func:`prose_analyzer`.

    A snippet re-analyses its hit's whole text, so it skips the index's stop-word
    filter. The words a snippet marks are never stop words or one-letter words, and
    every other word gets the same span and the same stem here, so the same words
    are marked; a fragment may start at a stop word that the index skips. ``words``
    reads any text with the index's word pattern; ``plain`` is tantivy's simple
    tokenizer (about five times faster), for text where it reads the same words:
    see :func:`snippet_kind`.
    """
    if kind == "plain":
        return _snippet_builder(tantivy.Tokenizer.simple())
    return _snippet_builder(tantivy.Tokenizer.regex(ALL_WORDS))


def snippet_kind(text: str) -> str:
    """``plain`` for :func:`plain_text` (where the simple tokenizer reads the same words
    as the index), else ``words``."""
    return "plain" if plain_text(text) else "words"


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
