"""The engine contract: every case runs on Whoosh and on tantivy, on real indexes.

Both engines must give the same hits, totals, facets and refusals for each
case (ranking may differ, and is only checked where the contract fixes it: a
title match above a text match). Whoosh-only behaviour is in
test_whoosh_index.py, tantivy-only behaviour in test_tantivy_index.py, and
test_engines_agree.py runs many more queries on both and compares them.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from records_service.indexing import (
    OFFICIAL_SENSITIVE,
    IndexClosed,
    IndexDocument,
    QuerySyntaxError,
    SearchIndex,
    SearchQuery,
    Visibility,
)
from records_service.indexing._generations import lock_is_held, root_lock
from support.waiting import READY_SECONDS

from .engines import (
    ENGINES,
    REVIEWER,
    STAFF_ALICE,
    STAFF_BOB,
    Opener,
    ids,
    make_doc,
    search,
)


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Opener:
    """The ``open_*_index`` function of each engine in turn."""
    return ENGINES[request.param]


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(engine: Opener, index_path: Path) -> Iterator[SearchIndex]:
    opened = engine(index_path, lock_timeout=2.0)
    yield opened
    opened.close()


# -- text matching -------------------------------------------------------------------


def test_it_satisfies_the_protocol(index: SearchIndex) -> None:
    assert isinstance(index, SearchIndex)


def test_phrase_is_found_only_in_order(index: SearchIndex) -> None:
    index.add_or_replace(
        [make_doc("r1", text="The panel asked whether value for money was shown.")]
    )

    assert ids(search(index, '"value for money"')) == ["r1"]
    assert ids(search(index, '"money for value"')) == []


def test_a_common_word_in_a_phrase_holds_its_place(index: SearchIndex) -> None:
    """Common and one-letter words are not indexed but keep their places, in the text
    and in the phrase, on both engines; ``~N`` allows N - 1 places more."""
    texts = {
        "for": "value for money",
        "of": "value of money",
        "none": "value money",
        "two": "value for the money",
        "letter": "value x money",
        "word": "value found money",
    }
    index.add_or_replace([make_doc(key, text=text) for key, text in texts.items()])

    assert sorted(ids(search(index, '"value for money"'))) == ["for", "letter", "of", "word"]
    assert ids(search(index, '"value money"')) == ["none"]
    assert sorted(ids(search(index, '"value for money"~2'))) == [
        "for", "letter", "of", "two", "word",
    ]  # fmt: skip
    assert sorted(ids(search(index, '"value money"~3'))) == sorted(texts)
    assert sorted(ids(search(index, '"the value of money"'))) == ["for", "letter", "of", "word"]


def test_stemming_finds_other_forms_and_marks_them(index: SearchIndex) -> None:
    index.add_or_replace([make_doc("r1", text="Funding for the refuge was agreed in March.")])

    result = search(index, "funded")

    assert ids(result) == ["r1"]
    assert "<mark>Funding</mark>" in result.hits[0].snippet


def test_accents_are_folded_both_ways(index: SearchIndex) -> None:
    index.add_or_replace(
        [
            make_doc("r1", text="Meeting held at the café on the high street."),
            make_doc("r2", text="The provider submitted a resume of outcomes."),
        ]
    )

    assert ids(search(index, "cafe")) == ["r1"]
    assert ids(search(index, "résumé")) == ["r2"]


def test_title_matches_and_ranks_above_text(index: SearchIndex) -> None:
    index.add_or_replace(
        [
            make_doc("in-text", title="Quarterly note", text="The audit found gaps."),
            make_doc("in-title", title="Audit of spending", text="Findings attached."),
        ]
    )

    result = search(index, "audit")

    assert ids(result) == ["in-title", "in-text"]
    assert result.hits[0].score > result.hits[1].score > 0
    assert result.hits[0].snippet == "<mark>Audit</mark> of spending"


def test_snippet_escapes_html_around_marks(index: SearchIndex) -> None:
    index.add_or_replace(
        [make_doc("r1", text='Payment <script>alert("x")</script> overdue & queried')]
    )

    snippet = search(index, "overdue").hits[0].snippet

    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "<mark>overdue</mark> &amp; queried" in snippet


def test_snippet_comes_from_around_a_match_deep_in_a_long_text(index: SearchIndex) -> None:
    text = "Intro words. " + "filler " * 6000 + "The asbestos report was late." + " tail" * 50
    index.add_or_replace([make_doc("r1", text=text)])

    snippet = search(index, "asbestos").hits[0].snippet

    assert "<mark>asbestos</mark> report was late." in snippet
    assert not snippet.startswith("Intro")
    assert len(snippet) < 400


def test_words_under_not_are_not_marked(index: SearchIndex) -> None:
    index.add_or_replace([make_doc("r1", text="Budget approved; budget review pending.")])

    snippet = search(index, "budget NOT (pending AND cancelled)").hits[0].snippet

    assert snippet.count("<mark>") == 2
    assert "<mark>Budget</mark> approved; <mark>budget</mark> review pending." in snippet


def test_match_all_gives_the_opening_of_the_text_as_snippet(index: SearchIndex) -> None:
    long_text = "Opening words of the letter. " + "filler " * 200
    index.add_or_replace([make_doc("r1", text=long_text)])

    snippet = search(index, "").hits[0].snippet

    assert snippet.startswith("Opening words of the letter.")
    assert snippet.endswith("…")
    assert len(snippet) < 260


def test_field_syntax_and_aliases(index: SearchIndex) -> None:
    index.add_or_replace(
        [
            make_doc("r1", record_type="minutes", provider="Victim Support", tags=("Urgent",)),
            make_doc("r2", record_type="invoice", provider="Safe Homes Trust"),
        ]
    )

    assert ids(search(index, "type:minutes")) == ["r1"]
    assert ids(search(index, "Record_Type:MINUTES")) == ["r1"]
    assert ids(search(index, 'provider:"victim support"')) == ["r1"]
    assert ids(search(index, "tag:urgent")) == ["r1"]
    assert ids(search(index, "victim NOT type:invoice")) == ["r1"]
    assert sorted(ids(search(index, "type:minutes OR type:invoice"))) == ["r1", "r2"]


# -- versions ------------------------------------------------------------------------


def test_old_version_words_need_all_versions(index: SearchIndex) -> None:
    index.add_or_replace([make_doc("r1", 1, text="Original mentions asbestos removal.")])
    index.add_or_replace([make_doc("r1", 2, text="Corrected version without it.")])

    assert search(index, "asbestos").total == 0
    old = search(index, "asbestos", all_versions=True)
    assert [(h.record_id, h.version, h.is_current) for h in old.hits] == [("r1", 1, False)]
    assert [(h.version, h.is_current) for h in search(index, "corrected").hits] == [(2, True)]


def test_add_or_replace_replaces_without_duplicates(index: SearchIndex) -> None:
    index.add_or_replace([make_doc("r1", 1, title="First title")])
    index.add_or_replace([make_doc("r1", 1, title="Second title")])

    result = search(index, "", all_versions=True)

    assert [(h.record_id, h.version, h.title) for h in result.hits] == [("r1", 1, "Second title")]
    assert index.stats().doc_count == 1


def test_a_new_current_version_demotes_the_old_one_keeping_its_fields(
    index: SearchIndex,
) -> None:
    first = make_doc("r1", 1, text="Asbestos survey", tags=("Estates",), contract_ref="OPCC-9")
    index.add_or_replace([first, make_doc("r2", 1)])
    index.add_or_replace([make_doc("r1", 2, text="Refurbishment plan")])

    all_versions = search(index, "", all_versions=True, contract_ref="OPCC-9", tags=("estates",))
    assert [(h.version, h.is_current) for h in all_versions.hits] == [(1, False)]
    assert ids(search(index, "asbestos", all_versions=True)) == ["r1"]
    current = search(index, "")
    assert sorted((h.record_id, h.version) for h in current.hits) == [("r1", 2), ("r2", 1)]
    assert index.stats().doc_count == 3


def test_a_batch_with_two_current_versions_of_a_record_is_refused(
    index: SearchIndex,
) -> None:
    with pytest.raises(ValueError, match="two current versions"):
        index.add_or_replace([make_doc("r1", 1), make_doc("r1", 2)])
    with pytest.raises(ValueError, match="appears twice"):
        index.add_or_replace([make_doc("r1", 1), make_doc("r1", 1)])
    assert index.stats().doc_count == 0


def test_remove_record_removes_every_version_only_of_that_record(
    index: SearchIndex,
) -> None:
    index.add_or_replace([make_doc("r1", 1, is_current=False), make_doc("r2", 1)])
    index.add_or_replace([make_doc("r1", 2)])

    index.remove_record("r1")

    assert ids(search(index, "", all_versions=True)) == ["r2"]
    assert index.stats().doc_count == 1


# -- filters, sorting, facets, pagination ---------------------------------------------


@pytest.fixture
def corpus(index: SearchIndex) -> SearchIndex:
    index.add_or_replace(
        [
            make_doc("a", record_type="minutes", contract_ref="OPCC-1", tags=("Panel",),
                     record_date=date(2022, 5, 1)),
            make_doc("b", record_type="invoice", contract_ref="OPCC-1", tags=("Finance", "Panel"),
                     record_date=date(2023, 2, 10)),
            make_doc("c", record_type="invoice", contract_ref="OPCC-2", tags=("Finance",),
                     record_date=date(2023, 12, 31)),
            make_doc("d", record_type="contract", contract_ref=None,
                     record_date=date(2024, 6, 30), classification=OFFICIAL_SENSITIVE),
        ]
    )  # fmt: skip
    return index


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"contract_ref": "OPCC-1"}, ["a", "b"]),
        ({"contract_ref": "opcc-1"}, ["a", "b"]),
        ({"record_types": ("invoice",)}, ["b", "c"]),
        ({"record_types": ("invoice", "minutes")}, ["a", "b", "c"]),
        ({"tags": ("finance",)}, ["b", "c"]),
        ({"tags": ("Finance", "panel")}, ["b"]),
        ({"date_from": date(2023, 2, 10)}, ["b", "c", "d"]),
        ({"date_to": date(2023, 12, 31)}, ["a", "b", "c"]),
        ({"date_from": date(2023, 1, 1), "date_to": date(2023, 12, 31)}, ["b", "c"]),
        ({"classification": OFFICIAL_SENSITIVE}, ["d"]),
        ({"classification": "OFFICIAL"}, ["a", "b", "c"]),
        ({"contract_ref": "OPCC-1", "record_types": ("invoice",)}, ["b"]),
    ],
)
def test_structured_filters(
    corpus: SearchIndex, filters: dict[str, object], expected: list[str]
) -> None:
    result = corpus.search(SearchQuery(**filters), REVIEWER)  # type: ignore[arg-type]

    assert sorted(ids(result)) == expected
    assert result.total == len(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version:<2", ["a1"]),
        ("version:<=2", ["a1", "a2"]),
        ("version:[2 TO 3]", ["a2", "a3"]),
        ("version:{1 TO 3}", ["a2"]),
        ("version:>=3", ["a3"]),
        ("year:<=2022", ["a1"]),
        ("year:[2023 TO 2023]", ["a2"]),
        ("date:<2023", ["a1"]),
        ("date:>2023", ["a3"]),
        ("date:[2023-01 TO 2023-12]", ["a2"]),
        ("date:{2022 TO 2024}", ["a2"]),
    ],
)
def test_ranges_and_comparisons_keep_to_their_bounds(
    index: SearchIndex, text: str, expected: list[str]
) -> None:
    """Whoosh's own ranges with an upper bound matched every version and year."""
    index.add_or_replace(
        [
            make_doc("a1", 1, is_current=False, record_date=date(2022, 5, 1)),
            make_doc("a2", 2, is_current=False, record_date=date(2023, 5, 1)),
            make_doc("a3", 3, record_date=date(2024, 5, 1)),
        ]
    )

    result = search(index, text, all_versions=True)

    assert sorted(f"a{hit.version}" for hit in result.hits) == expected
    assert result.total == len(expected)


def test_sort_by_date_is_newest_first(corpus: SearchIndex) -> None:
    result = search(corpus, "", sort="date")

    assert ids(result) == ["d", "c", "b", "a"]
    assert [hit.record_date.year for hit in result.hits] == [2024, 2023, 2023, 2022]
    assert all(hit.score == 0.0 for hit in result.hits)


def test_facets_count_the_whole_filtered_result_not_the_page(corpus: SearchIndex) -> None:
    result = search(corpus, "", page_size=1)

    assert len(result.hits) == 1
    assert result.facets == {
        "record_type": {"invoice": 2, "minutes": 1, "contract": 1},
        "contract": {"OPCC-1": 2, "OPCC-2": 1},
        "year": {"2023": 2, "2022": 1, "2024": 1},
    }
    assert list(result.facets["record_type"]) == ["invoice", "contract", "minutes"]
    filtered = search(corpus, "", record_types=("invoice",))
    assert filtered.facets["contract"] == {"OPCC-1": 1, "OPCC-2": 1}
    assert filtered.facets["year"] == {"2023": 2}


def test_pagination_covers_every_hit_once_and_reports_the_total(
    index: SearchIndex,
) -> None:
    index.add_or_replace([make_doc(f"r{n:02d}", text=f"budget line {n}") for n in range(25)])

    pages = [search(index, "budget", page=n, page_size=10) for n in (1, 2, 3, 4)]

    assert [len(page.hits) for page in pages] == [10, 10, 5, 0]
    assert {page.total for page in pages} == {25}
    seen = [record for page in pages for record in ids(page)]
    assert sorted(seen) == [f"r{n:02d}" for n in range(25)]
    assert pages[3].page == 4
    assert pages[3].facets["record_type"] == {"correspondence": 25}


# -- visibility -------------------------------------------------------------------------


@pytest.fixture
def with_sensitive(index: SearchIndex) -> SearchIndex:
    index.add_or_replace(
        [
            make_doc("open", text="Ombudsman letter about the service."),
            make_doc(
                "secret",
                text="Ombudsman complaint naming a victim.",
                classification=OFFICIAL_SENSITIVE,
                captured_by="alice",
                record_type="safeguarding_note",
                contract_ref="OPCC-SECRET",
                record_date=date(2019, 3, 3),
            ),
        ]
    )
    return index


def test_sensitive_version_is_invisible_to_other_staff_everywhere(
    with_sensitive: SearchIndex,
) -> None:
    for text in ("ombudsman", "victim", ""):
        for all_versions in (False, True):
            result = search(with_sensitive, text, who=STAFF_BOB, all_versions=all_versions)
            assert "secret" not in ids(result)
            assert result.total == len(result.hits)
            assert "safeguarding_note" not in result.facets["record_type"]
            assert "OPCC-SECRET" not in result.facets["contract"]
            assert "2019" not in result.facets["year"]
            assert all("victim" not in hit.snippet for hit in result.hits)
    assert search(with_sensitive, "victim", who=STAFF_BOB).total == 0
    assert search(with_sensitive, "ombudsman", who=STAFF_BOB).total == 1
    assert search(with_sensitive, "", who=STAFF_BOB, classification=OFFICIAL_SENSITIVE).total == 0
    anonymous = Visibility(see_sensitive=False, username="")
    assert search(with_sensitive, "victim", who=anonymous).total == 0


@pytest.mark.parametrize("who", [STAFF_ALICE, REVIEWER], ids=["capturer", "reviewer"])
def test_sensitive_version_is_visible_to_its_capturer_and_to_reviewers(
    with_sensitive: SearchIndex, who: Visibility
) -> None:
    result = search(with_sensitive, "ombudsman", who=who)

    assert sorted(ids(result)) == ["open", "secret"]
    assert result.facets["record_type"] == {"correspondence": 1, "safeguarding_note": 1}
    secret = next(hit for hit in result.hits if hit.record_id == "secret")
    assert "<mark>Ombudsman</mark> complaint naming a victim" in secret.snippet


# -- malformed queries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"unclosed phrase', "double quote"),
        ("(funding OR money", "'(' is not closed"),
        ("funding)", "no matching '('"),
        ("funding AND", "ends with 'AND'"),
        ("OR funding", "'OR' needs a term before it"),
        ("funding AND OR money", "'OR' needs a term"),
        ("NOT", "ends with 'NOT'"),
        ("funding ()", "empty parentheses"),
        ("nosuchfield:value", "unknown field 'nosuchfield:'"),
        ("http://example", "unknown field 'http:'"),
        ("title:", "must be followed by a value"),
        ("title: funding", "must be followed by a value"),
        ("current:maybe", "true or false"),
        ("date:2024-13-01", "could not be read"),
        ("date:notadate", "could not be read"),
        ("date:[2025 TO 2024]", "starts after it ends"),
        ("version:[5 TO 1]", "starts after it ends"),
        ("version:abc", "not a valid number"),
        ("date:[2024 TO", "range bracket"),
        ("funding]", "range bracket"),
        ("version:>=", "comparison"),
        ("funding <", "comparison"),
        ("the", "nothing to search for"),
        ('tags:"finance, panel"', "quoted phrases work in"),
    ],
)
def test_malformed_query_text_is_refused_with_a_reason(
    corpus: SearchIndex, text: str, message: str
) -> None:
    with pytest.raises(QuerySyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        search(corpus, text)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"page": 0}, "page must be 1 or more"),
        ({"page_size": 0}, "page_size must be between"),
        ({"page_size": 10_000}, "page_size must be between"),
        ({"date_from": date(2024, 2, 1), "date_to": date(2024, 1, 1)}, "is after"),
        ({"classification": "SECRET"}, "unknown classification"),
        ({"tags": ("a,b",)}, "no comma"),
        ({"text": "x" * 3000}, "longer than"),
    ],
)
def test_impossible_structured_filters_are_refused(
    corpus: SearchIndex, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        corpus.search(SearchQuery(**overrides), REVIEWER)  # type: ignore[arg-type]


def test_well_formed_queries_with_special_characters_are_accepted(
    corpus: SearchIndex,
) -> None:
    for text in ("10:30 meeting", "O'Brien", "fund*", "date:[2023 TO 2024]", "version:>=1",
                 'title:"record a"', "(minutes OR invoice) AND NOT contract", "c++ & co",
                 "date:2023-12", "captured:2024",
                 '"http://example.org"', '"note: funding"'):  # fmt: skip
        search(corpus, text)


def test_only_query_syntax_errors_escape_for_arbitrary_input(corpus: SearchIndex) -> None:
    pieces = '" ( ) [ ] { } AND OR NOT ANDNOT * ? : title: date: version: current: tags: type:'
    pieces += " ~2 ^3 ' funding café 2024 TO \\ - + < >= , !"
    words = [*pieces.split(), " "]
    rng = random.Random(20240601)
    for _ in range(400):
        text = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(1, 8)))
        try:
            search(corpus, text, who=STAFF_BOB, all_versions=rng.random() < 0.5)
        except QuerySyntaxError as exc:
            assert str(exc)


# -- rebuild, schema version, locking ------------------------------------------------------


def test_a_new_index_needs_a_rebuild_until_one_completes(engine: Opener, index_path: Path) -> None:
    first = engine(index_path)
    assert first.needs_rebuild
    first.add_or_replace([make_doc("r1")])
    first.close()

    reopened = engine(index_path)
    assert reopened.needs_rebuild
    assert reopened.stats().doc_count == 1
    progress: list[int] = []
    assert reopened.rebuild([make_doc("r1"), make_doc("r2")], progress=progress.append) == 2
    assert progress == [2]
    assert not reopened.needs_rebuild
    assert reopened.stats().rebuild_reason is None
    reopened.close()
    assert not engine(index_path).needs_rebuild


def test_rebuild_swaps_while_searches_keep_answering_from_the_old_index(
    engine: Opener, index: SearchIndex, index_path: Path
) -> None:
    index.add_or_replace([make_doc("old", text="legacy wording")])
    other_handle = engine(index_path)
    seen_during: list[list[str]] = []

    def new_docs() -> Iterator[IndexDocument]:
        for n in range(1200):
            if n == 600:
                seen_during.append(ids(search(index, "legacy")))
                seen_during.append(ids(search(other_handle, "legacy")))
                seen_during.append(ids(search(index, "fresh")))
            yield make_doc(f"new{n}", text="fresh wording")

    progress: list[int] = []
    assert index.rebuild(new_docs(), progress=progress.append) == 1200

    assert seen_during == [["old"], ["old"], []]
    assert progress == [500, 1000, 1200]
    assert search(index, "legacy").total == 0
    assert search(index, "fresh").total == 1200
    assert search(other_handle, "fresh").total == 1200
    other_handle.add_or_replace([make_doc("late", text="fresh wording")])
    assert search(index, "fresh").total == 1201
    generations = [p.name for p in index_path.iterdir() if p.name.startswith("gen-")]
    assert len(generations) == 2  # the new one, and the old one for searches still running
    other_handle.close()


def test_a_failed_rebuild_leaves_the_old_index_live(
    engine: Opener, index: SearchIndex, index_path: Path
) -> None:
    index.add_or_replace([make_doc("keep")])
    before = {p.name for p in index_path.glob("gen-*")}

    def broken() -> Iterator[IndexDocument]:
        yield make_doc("x1")
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        index.rebuild(broken())

    assert ids(search(index, "")) == ["keep"]
    assert {p.name for p in index_path.glob("gen-*")} == before
    with pytest.raises(ValueError, match="appears twice"):
        index.rebuild([make_doc("x1"), make_doc("x1")])
    assert ids(search(index, "")) == ["keep"]


def test_writes_from_other_threads_wait_for_a_rebuild_and_land_in_the_new_index(
    index: SearchIndex,
) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow_docs() -> Iterator[IndexDocument]:
        yield make_doc("rebuilt")
        started.set()
        assert release.wait(READY_SECONDS)

    rebuild = threading.Thread(target=index.rebuild, args=(slow_docs(),))
    rebuild.start()
    assert started.wait(READY_SECONDS)
    writer = threading.Thread(target=index.add_or_replace, args=([make_doc("during")],))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive()  # blocked on the write lock, not written to the old index
    release.set()
    rebuild.join(10)
    writer.join(10)

    assert sorted(ids(search(index, ""))) == ["during", "rebuilt"]


def test_a_schema_version_change_reports_needs_rebuild(engine: Opener, index_path: Path) -> None:
    first = engine(index_path)
    first.rebuild([make_doc("r1")])
    first.close()
    pointer_file = index_path / "index.json"
    pointer = json.loads(pointer_file.read_text())
    pointer_file.write_text(json.dumps({**pointer, "schema_version": 0}))

    reopened = engine(index_path)

    assert reopened.needs_rebuild
    assert "schema version 0" in (reopened.rebuild_reason or "")
    assert reopened.stats().doc_count == 0
    reopened.rebuild([make_doc("r1"), make_doc("r2")])
    assert not reopened.needs_rebuild
    assert reopened.stats().schema_version == 2
    assert reopened.stats().doc_count == 2
    reopened.close()


def test_a_damaged_pointer_resets_to_an_empty_index_that_needs_rebuild(
    engine: Opener, index_path: Path
) -> None:
    first = engine(index_path)
    first.rebuild([make_doc("r1")])
    first.close()
    (index_path / "index.json").write_text('{"generation": "../../etc", "schema_version": 1}')

    reopened = engine(index_path)

    assert reopened.needs_rebuild
    assert reopened.rebuild_reason == "the index pointer is unreadable"
    assert reopened.stats().doc_count == 0
    reopened.close()


def test_concurrent_writers_in_one_process_lose_nothing(index: SearchIndex) -> None:
    def write(worker: int) -> None:
        for batch in range(4):
            index.add_or_replace([make_doc(f"w{worker}-{batch}")])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert index.stats().doc_count == 16


def test_stats_and_close(engine: Opener, index_path: Path) -> None:
    opened = engine(index_path)
    opened.add_or_replace([make_doc("r1"), replace(make_doc("r2"), is_current=False)])

    stats = opened.stats()
    assert (stats.doc_count, stats.schema_version, stats.path) == (2, 2, str(index_path))
    opened.close()
    with pytest.raises(IndexClosed):
        opened.search(SearchQuery(), REVIEWER)


def test_documents_are_validated() -> None:
    with pytest.raises(ValueError, match="classification"):
        make_doc("r1", classification="TOP SECRET")
    with pytest.raises(ValueError, match="version"):
        make_doc("r1", 0)
    with pytest.raises(ValueError, match="comma"):
        make_doc("r1", tags=("a,b",))


def test_stats_say_rebuilding_while_another_holder_has_the_rebuild_lock(
    index: SearchIndex, tmp_path: Path
) -> None:
    root = Path(index.stats().path)
    assert index.stats().rebuilding is False
    # Another open of the lock file, as another process's rebuild would hold it.
    holder = root_lock(root, "rebuild.lock")
    assert holder.acquire(False)
    try:
        assert index.stats().rebuilding is True
    finally:
        holder.release()
    assert index.stats().rebuilding is False
    assert lock_is_held(tmp_path / "no-such-index", "rebuild.lock") is False
