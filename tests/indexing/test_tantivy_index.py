"""tantivy-only behaviour: analysis as Whoosh's, the writer lock, reloads, and panics.

The engine contract (what both engines do alike) is in test_engine_contract.py.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy
from whoosh import analysis
from whoosh.support.charset import accent_map

from records_service.errors import ServiceUnavailable
from records_service.indexing import (
    IndexBusy,
    IndexFailure,
    QuerySyntaxError,
    SearchQuery,
    TantivySearchIndex,
    open_tantivy_index,
    open_whoosh_index,
)
from records_service.indexing import tantivy_index as engine_module
from records_service.indexing._analysis import STOP_WORDS
from records_service.indexing._generations import root_lock
from records_service.indexing._tantivy_query import wildcard_regex
from records_service.indexing._tantivy_schema import (
    WORDS,
    plain_text,
    prose_analyzer,
    snippet_analyzer,
    snippet_kind,
    unstemmed_builder,
)

from .engines import REVIEWER, ids, live_generation, make_doc, search


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(index_path: Path) -> Iterator[TantivySearchIndex]:
    opened = open_tantivy_index(index_path, lock_timeout=2.0)
    yield opened
    opened.close()


def _relative(tokens: list[tuple[str, int, int, int]]) -> list[tuple[str, int, int, int]]:
    first = tokens[0][1] if tokens else 0
    return [(text, pos - first, start, end) for text, pos, start, end in tokens]


def _tokens(analyzer: tantivy.TextAnalyzer, text: str) -> list[tuple[str, int, int, int]]:
    tokens = analyzer.pre_tokenize(text).tokens
    return [(t.text, t.position, t.char_offset_from, t.char_offset_to) for t in tokens]


def test_words_stop_words_and_positions_are_whooshs() -> None:
    """Same words, offsets and relative positions (gaps where words were dropped) before
    stemming, so phrases match alike."""
    whoosh = (
        analysis.RegexTokenizer()
        | analysis.LowercaseFilter()
        | analysis.CharsetFilter(accent_map)
        | analysis.StopFilter(renumber=False)
    )
    ours = unstemmed_builder(tantivy.Tokenizer.regex(WORDS)).build()
    assert analysis.STOP_WORDS == STOP_WORDS
    pieces = [*STOP_WORDS, "The", "AND", "x", "ab", "then", "th", "café", "e", "über", "10",
              "3", "_", ".", "..", "-", "'", "tbdx", "youre", "naïve", "Ärger", "fund"]  # fmt: skip
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(
            rng.choice(pieces) + rng.choice(["", " ", ".", "-"]) for _ in range(rng.randint(1, 9))
        )
        found = whoosh(text, positions=True, chars=True)
        theirs = [(t.text, t.pos, t.startchar, t.endchar) for t in found]
        assert _relative(_tokens(ours, text)) == _relative(theirs), text


def test_plain_text_gets_the_same_tokens_from_the_simple_tokenizer() -> None:
    """A rebuild reads plain_text with the simple tokenizer: same terms, positions, offsets."""
    words = unstemmed_builder(tantivy.Tokenizer.regex(WORDS)).build()
    simple = unstemmed_builder(tantivy.Tokenizer.simple()).build()
    pieces = [*STOP_WORDS, "The", "x", "ab", "café", "e", "über", "10", "3", "_", ".", "..",
              "-", "'", "naïve", "Ärger", "fund", "e.g", "3.5", "x²", "½", "e\u0301", "a\u200db",
              "中文", "\u03b1", "£5", "\u2013", "\u2019", "fund_raising", "ß", "Ⓐ", "‿",
              "İ"]  # fmt: skip
    rng = random.Random(13)
    plain = 0
    for _ in range(3000):
        text = "".join(
            rng.choice(pieces) + rng.choice(["", " ", ".", "-", ". "])
            for _ in range(rng.randint(1, 9))
        )
        if plain_text(text):
            plain += 1
            assert _tokens(simple, text) == _tokens(words, text), text
    assert plain > 300
    for text in ("fund_raising", "see e.g. this", "version 3.5", "x²", "e\u0301", "a\u200db"):
        assert not plain_text(text), text
    assert plain_text("Naïve £5 \u2013 café\u2019s 中文 budget. Next") is True


def _spans(analyzer: tantivy.TextAnalyzer, text: str) -> set[tuple[str, int, int]]:
    return {
        (t.text, t.char_offset_from, t.char_offset_to) for t in analyzer.pre_tokenize(text).tokens
    }


def test_snippets_find_every_indexed_word_with_its_span_and_stem() -> None:
    """The snippet analyzers (faster, they keep stop words) give every word the index keeps
    the same span and stem, so snippets mark exactly the words a search matched: the
    ``words`` one on any text, the ``plain`` one on the texts ``snippet_kind`` gives it."""
    pieces = [*STOP_WORDS, "The", "AND", "x", "ab", "then", "th", "café", "e", "über", "10",
              "3", "_", ".", "..", "-", "'", "funded", "naïve", "Ärger", "e.g", "a.b",
              "Budget", "3.5"]  # fmt: skip
    rng = random.Random(12)
    plain = 0
    for _ in range(4000):
        text = "".join(
            rng.choice(pieces) + rng.choice(["", " ", ".", "-", ", "])
            for _ in range(rng.randint(1, 9))
        )
        indexed = _spans(prose_analyzer(), text)
        kinds = ["words", *(["plain"] if snippet_kind(text) == "plain" else [])]
        plain += len(kinds) - 1
        for kind in kinds:
            for_snippets = _spans(snippet_analyzer(kind), text)
            assert indexed <= for_snippets, (kind, text)
            for _, start, end in for_snippets - indexed:  # only words the index leaves out
                word = text[start:end].lower()
                assert word in STOP_WORDS or len(word) == 1, (kind, text, word)
    assert plain > 500  # the plain analyzer was checked on many texts


def test_a_rebuild_switching_analyzers_indexes_every_document_as_a_write_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild reads plain documents with the simple tokenizer and the others with the
    word pattern, switching back and forth; the index answers as one written doc by doc."""
    monkeypatch.setattr(engine_module, "SWITCH_AFTER", 2)
    texts = [
        "Value for money was shown.",  # plain
        "Value of money, e.g. the fund_raising totals.",  # dot-joined word and "_"
        "The x value money panel.",
        "Meeting at the café: value for the money.",  # plain, not ASCII
        "Version 3.5 of the panel's terms.",
        "Panel agreed the value-for-money test.",
        "Raising funds x\u00b2 panel",  # "²"
    ]
    docs = [make_doc(f"r{n}", text=text) for n, text in enumerate(texts)]
    rebuilt = open_tantivy_index(tmp_path / "rebuilt")
    rebuilt.rebuild(iter(docs), processes=2)
    written = open_tantivy_index(tmp_path / "written")
    for doc in docs:
        written.add_or_replace([doc])
    queries = ['"value for money"', '"value money"', "e.g", "fund_raising", "raising", "3.5",
               "panel", '"value for the money"~2', "cafe", "x2", "value", "the"]  # fmt: skip
    for text in queries:
        try:
            expected = sorted(ids(search(written, text, page_size=50)))
        except QuerySyntaxError:
            with pytest.raises(QuerySyntaxError):
                search(rebuilt, text)
            continue
        assert sorted(ids(search(rebuilt, text, page_size=50))) == expected, text
    assert ids(search(rebuilt, "e.g")) == ["r1"]
    assert sorted(ids(search(rebuilt, '"value for money"'))) == ["r0", "r1", "r5"]
    rebuilt.close()
    written.close()


def test_only_plain_words_go_to_the_simple_tokenizer() -> None:
    assert snippet_kind("Budget approved. Review in May, 2024!") == "plain"
    assert snippet_kind("Meeting at the café: £5 \u2013 agreed") == "plain"
    for text in ("fund_raising", "see e.g. this", "version 3.5", "example.org", "x²"):
        assert snippet_kind(text) == "words", text


def test_a_rust_panic_is_contained_logged_and_the_index_answers_after(
    index: TantivySearchIndex, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """tantivy asserts a page of 0 hits; the engine boundary turns that real panic into a 503."""
    index.add_or_replace([make_doc("r1", text="helpline budget")])
    real_collect = engine_module._collect

    def zero_limit(searcher: tantivy.Searcher, query: tantivy.Query, search: SearchQuery) -> object:
        return searcher.search(query, 0)  # panics inside tantivy: "Limit must be greater than 0"

    monkeypatch.setattr(engine_module, "_collect", zero_limit)
    with caplog.at_level(logging.ERROR), pytest.raises(IndexFailure) as raised:
        search(index, "helpline")
    assert isinstance(raised.value, ServiceUnavailable) and isinstance(raised.value, IndexBusy)
    assert raised.value.status == 503
    assert "panicked during a search" in caplog.text and "Limit must be greater" in caplog.text

    monkeypatch.setattr(engine_module, "_collect", real_collect)
    assert ids(search(index, "helpline")) == ["r1"]
    index.add_or_replace([make_doc("r2", text="helpline outreach")])
    assert sorted(ids(search(index, "helpline"))) == ["r1", "r2"]


def test_a_panic_in_a_write_leaves_nothing_half_written(
    index: TantivySearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.add_or_replace([make_doc("r1", text="first words")])

    def panicking(doc: object, schema: tantivy.Schema) -> tantivy.Document:
        # A real panic from the engine, injected part-way through the batch.
        tantivy.Index(schema).searcher().search(tantivy.Query.all_query(), 0)
        raise AssertionError("unreachable")

    monkeypatch.setattr(engine_module, "to_document", panicking)
    with pytest.raises(IndexFailure):
        index.add_or_replace([make_doc("r2", text="second words")])
    monkeypatch.undo()

    assert ids(search(index, "", all_versions=True)) == ["r1"]
    index.add_or_replace([make_doc("r2", text="second words")])
    assert sorted(ids(search(index, ""))) == ["r1", "r2"]


def test_a_writer_holding_the_generation_lock_makes_others_wait_then_fail(
    index: TantivySearchIndex, index_path: Path
) -> None:
    index.add_or_replace([make_doc("r1")])
    impatient = open_tantivy_index(index_path, lock_timeout=0.2)
    holder = root_lock(live_generation(index_path), "writer.lock")
    assert holder.acquire(False)
    try:
        with pytest.raises(IndexBusy):
            impatient.add_or_replace([make_doc("r2")])
    finally:
        holder.release()

    impatient.add_or_replace([make_doc("r2")])
    assert sorted(ids(search(index, ""))) == ["r1", "r2"]
    impatient.close()


def test_a_commit_by_another_handle_is_seen_by_the_next_search(
    index: TantivySearchIndex, index_path: Path
) -> None:
    other = open_tantivy_index(index_path)
    assert search(other, "").total == 0
    index.add_or_replace([make_doc("r1", text="outreach")])
    index.add_or_replace([make_doc("r1", 2, text="counselling")])

    assert ids(search(other, "outreach", all_versions=True)) == ["r1"]
    assert [(h.version, h.is_current) for h in search(other, "", all_versions=True).hits] in (
        [(1, False), (2, True)],
        [(2, True), (1, False)],
    )
    other.close()


def test_a_whoosh_index_directory_is_not_read_as_tantivy(tmp_path: Path) -> None:
    whoosh = open_whoosh_index(tmp_path / "index")
    whoosh.rebuild([make_doc("r1")])
    whoosh.close()

    opened = open_tantivy_index(tmp_path / "index")

    assert opened.needs_rebuild
    assert opened.rebuild_reason == "the index was written by another engine (whoosh)"
    opened.rebuild([make_doc("r1")])
    pointer = json.loads((tmp_path / "index" / "index.json").read_text())
    assert (pointer["engine"], pointer["needs_rebuild"]) == ("tantivy", False)
    assert ids(opened.search(SearchQuery(), REVIEWER)) == ["r1"]
    opened.close()


def test_wildcards_match_whole_terms_and_escape_the_rest(index: TantivySearchIndex) -> None:
    index.add_or_replace([make_doc("r1", text="See example.org and e.g. the c.v"), make_doc("r2")])

    assert wildcard_regex("a.b*c?") == "a\\.b.*c."
    assert ids(search(index, "example.*")) == ["r1"]
    assert ids(search(index, "e.?")) == ["r1"]
    assert ids(search(index, "xample*")) == []
