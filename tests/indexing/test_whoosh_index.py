"""Behaviour of the Whoosh search index, on real indexes in temporary directories."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from records_service.indexing import (
    OFFICIAL_SENSITIVE,
    IndexBusy,
    IndexClosed,
    IndexDocument,
    QuerySyntaxError,
    SearchIndex,
    SearchQuery,
    SearchResult,
    Visibility,
    WhooshSearchIndex,
    open_whoosh_index,
)
from records_service.indexing._generations import lock_is_held, root_lock
from support.waiting import READY_SECONDS

STAFF_BOB = Visibility(see_sensitive=False, username="bob")
STAFF_ALICE = Visibility(see_sensitive=False, username="alice")
REVIEWER = Visibility(see_sensitive=True, username="rita")


def make_doc(record_id: str, version: int = 1, **overrides: object) -> IndexDocument:
    """A valid document with explicit, deterministic defaults."""
    values: dict[str, object] = {
        "record_id": record_id,
        "version": version,
        "is_current": True,
        "title": f"Record {record_id}",
        "text": "General correspondence about the service.",
        "record_type": "correspondence",
        "contract_ref": "OPCC-2023-001",
        "provider": "Safe Homes Trust",
        "tags": (),
        "record_date": date(2024, 1, 15),
        "captured_at": datetime(2024, 1, 16, 9, 30, tzinfo=UTC),
        "classification": "OFFICIAL",
        "originator": "Commissioning team",
        "captured_by": "carol",
    }
    values.update(overrides)
    return IndexDocument(**values)  # type: ignore[arg-type]


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(index_path: Path) -> Iterator[WhooshSearchIndex]:
    opened = open_whoosh_index(index_path, lock_timeout=2.0)
    yield opened
    opened.close()


def ids(result: SearchResult) -> list[str]:
    return [hit.record_id for hit in result.hits]


def search(
    index: SearchIndex, text: str = "", *, who: Visibility = REVIEWER, **kw: object
) -> SearchResult:
    return index.search(SearchQuery(text=text, **kw), who)  # type: ignore[arg-type]


def live_generation(index_path: Path) -> Path:
    pointer = json.loads((index_path / "index.json").read_text())
    return index_path / str(pointer["generation"])


# -- text matching -------------------------------------------------------------------


def test_it_satisfies_the_protocol(index: WhooshSearchIndex) -> None:
    assert isinstance(index, SearchIndex)


def test_phrase_is_found_only_in_order(index: WhooshSearchIndex) -> None:
    index.add_or_replace(
        [make_doc("r1", text="The panel asked whether value for money was shown.")]
    )

    assert ids(search(index, '"value for money"')) == ["r1"]
    assert ids(search(index, '"money for value"')) == []


def test_stemming_finds_other_forms_and_marks_them(index: WhooshSearchIndex) -> None:
    index.add_or_replace([make_doc("r1", text="Funding for the refuge was agreed in March.")])

    result = search(index, "funded")

    assert ids(result) == ["r1"]
    assert "<mark>Funding</mark>" in result.hits[0].snippet


def test_accents_are_folded_both_ways(index: WhooshSearchIndex) -> None:
    index.add_or_replace(
        [
            make_doc("r1", text="Meeting held at the café on the high street."),
            make_doc("r2", text="The provider submitted a resume of outcomes."),
        ]
    )

    assert ids(search(index, "cafe")) == ["r1"]
    assert ids(search(index, "résumé")) == ["r2"]


def test_title_matches_and_ranks_above_text(index: WhooshSearchIndex) -> None:
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


def test_snippet_escapes_html_around_marks(index: WhooshSearchIndex) -> None:
    index.add_or_replace(
        [make_doc("r1", text='Payment <script>alert("x")</script> overdue & queried')]
    )

    snippet = search(index, "overdue").hits[0].snippet

    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "<mark>overdue</mark> &amp; queried" in snippet


def test_snippet_comes_from_around_a_match_deep_in_a_long_text(index: WhooshSearchIndex) -> None:
    text = "Intro words. " + "filler " * 6000 + "The asbestos report was late." + " tail" * 50
    index.add_or_replace([make_doc("r1", text=text)])

    snippet = search(index, "asbestos").hits[0].snippet

    assert "<mark>asbestos</mark> report was late." in snippet
    assert not snippet.startswith("Intro")
    assert len(snippet) < 400


def test_words_under_not_are_not_marked(index: WhooshSearchIndex) -> None:
    index.add_or_replace([make_doc("r1", text="Budget approved; budget review pending.")])

    snippet = search(index, "budget NOT (pending AND cancelled)").hits[0].snippet

    assert snippet.count("<mark>") == 2
    assert "<mark>Budget</mark> approved; <mark>budget</mark> review pending." in snippet


def test_match_all_gives_the_opening_of_the_text_as_snippet(index: WhooshSearchIndex) -> None:
    long_text = "Opening words of the letter. " + "filler " * 200
    index.add_or_replace([make_doc("r1", text=long_text)])

    snippet = search(index, "").hits[0].snippet

    assert snippet.startswith("Opening words of the letter.")
    assert snippet.endswith("…")
    assert len(snippet) < 260


def test_field_syntax_and_aliases(index: WhooshSearchIndex) -> None:
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


def test_old_version_words_need_all_versions(index: WhooshSearchIndex) -> None:
    index.add_or_replace([make_doc("r1", 1, text="Original mentions asbestos removal.")])
    index.add_or_replace([make_doc("r1", 2, text="Corrected version without it.")])

    assert search(index, "asbestos").total == 0
    old = search(index, "asbestos", all_versions=True)
    assert [(h.record_id, h.version, h.is_current) for h in old.hits] == [("r1", 1, False)]
    assert [(h.version, h.is_current) for h in search(index, "corrected").hits] == [(2, True)]


def test_add_or_replace_replaces_without_duplicates(index: WhooshSearchIndex) -> None:
    index.add_or_replace([make_doc("r1", 1, title="First title")])
    index.add_or_replace([make_doc("r1", 1, title="Second title")])

    result = search(index, "", all_versions=True)

    assert [(h.record_id, h.version, h.title) for h in result.hits] == [("r1", 1, "Second title")]
    assert index.stats().doc_count == 1


def test_a_new_current_version_demotes_the_old_one_keeping_its_fields(
    index: WhooshSearchIndex,
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
    index: WhooshSearchIndex,
) -> None:
    with pytest.raises(ValueError, match="two current versions"):
        index.add_or_replace([make_doc("r1", 1), make_doc("r1", 2)])
    with pytest.raises(ValueError, match="appears twice"):
        index.add_or_replace([make_doc("r1", 1), make_doc("r1", 1)])
    assert index.stats().doc_count == 0


def test_remove_record_removes_every_version_only_of_that_record(
    index: WhooshSearchIndex,
) -> None:
    index.add_or_replace([make_doc("r1", 1, is_current=False), make_doc("r2", 1)])
    index.add_or_replace([make_doc("r1", 2)])

    index.remove_record("r1")

    assert ids(search(index, "", all_versions=True)) == ["r2"]
    assert index.stats().doc_count == 1


# -- filters, sorting, facets, pagination ---------------------------------------------


@pytest.fixture
def corpus(index: WhooshSearchIndex) -> WhooshSearchIndex:
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
    corpus: WhooshSearchIndex, filters: dict[str, object], expected: list[str]
) -> None:
    result = corpus.search(SearchQuery(**filters), REVIEWER)  # type: ignore[arg-type]

    assert sorted(ids(result)) == expected
    assert result.total == len(expected)


def test_sort_by_date_is_newest_first(corpus: WhooshSearchIndex) -> None:
    result = search(corpus, "", sort="date")

    assert ids(result) == ["d", "c", "b", "a"]
    assert [hit.record_date.year for hit in result.hits] == [2024, 2023, 2023, 2022]
    assert all(hit.score == 0.0 for hit in result.hits)


def test_facets_count_the_whole_filtered_result_not_the_page(corpus: WhooshSearchIndex) -> None:
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
    index: WhooshSearchIndex,
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
def with_sensitive(index: WhooshSearchIndex) -> WhooshSearchIndex:
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
    with_sensitive: WhooshSearchIndex,
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
    with_sensitive: WhooshSearchIndex, who: Visibility
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
    corpus: WhooshSearchIndex, text: str, message: str
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
    corpus: WhooshSearchIndex, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        corpus.search(SearchQuery(**overrides), REVIEWER)  # type: ignore[arg-type]


def test_well_formed_queries_with_special_characters_are_accepted(
    corpus: WhooshSearchIndex,
) -> None:
    for text in ("10:30 meeting", "O'Brien", "fund*", "date:[2023 TO 2024]", "version:>=1",
                 'title:"record a"', "(minutes OR invoice) AND NOT contract", "c++ & co",
                 "date:2023-12", "captured:2024",
                 '"http://example.org"', '"note: funding"'):  # fmt: skip
        search(corpus, text)


def test_only_query_syntax_errors_escape_for_arbitrary_input(corpus: WhooshSearchIndex) -> None:
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


def test_a_new_index_needs_a_rebuild_until_one_completes(index_path: Path) -> None:
    first = open_whoosh_index(index_path)
    assert first.needs_rebuild
    first.add_or_replace([make_doc("r1")])
    first.close()

    reopened = open_whoosh_index(index_path)
    assert reopened.needs_rebuild
    assert reopened.stats().doc_count == 1
    progress: list[int] = []
    assert reopened.rebuild([make_doc("r1"), make_doc("r2")], progress=progress.append) == 2
    assert progress == [2]
    assert not reopened.needs_rebuild
    assert reopened.stats().rebuild_reason is None
    reopened.close()
    assert not open_whoosh_index(index_path).needs_rebuild


def test_rebuild_swaps_while_searches_keep_answering_from_the_old_index(
    index: WhooshSearchIndex, index_path: Path
) -> None:
    index.add_or_replace([make_doc("old", text="legacy wording")])
    other_handle = open_whoosh_index(index_path)
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
    index: WhooshSearchIndex, index_path: Path
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
    index: WhooshSearchIndex,
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


def test_a_schema_version_change_reports_needs_rebuild(index_path: Path) -> None:
    first = open_whoosh_index(index_path)
    first.rebuild([make_doc("r1")])
    first.close()
    pointer_file = index_path / "index.json"
    pointer = json.loads(pointer_file.read_text())
    pointer_file.write_text(json.dumps({**pointer, "schema_version": 0}))

    reopened = open_whoosh_index(index_path)

    assert reopened.needs_rebuild
    assert "schema version 0" in (reopened.rebuild_reason or "")
    assert reopened.stats().doc_count == 0
    reopened.rebuild([make_doc("r1"), make_doc("r2")])
    assert not reopened.needs_rebuild
    assert reopened.stats().schema_version == 1
    assert reopened.stats().doc_count == 2
    reopened.close()


def test_a_damaged_pointer_resets_to_an_empty_index_that_needs_rebuild(index_path: Path) -> None:
    first = open_whoosh_index(index_path)
    first.rebuild([make_doc("r1")])
    first.close()
    (index_path / "index.json").write_text('{"generation": "../../etc", "schema_version": 1}')

    reopened = open_whoosh_index(index_path)

    assert reopened.needs_rebuild
    assert reopened.rebuild_reason == "the index pointer is unreadable"
    assert reopened.stats().doc_count == 0
    reopened.close()


def test_another_process_holding_the_whoosh_lock_makes_writes_wait_then_fail(
    index: WhooshSearchIndex, index_path: Path
) -> None:
    index.add_or_replace([make_doc("r1")])
    impatient = open_whoosh_index(index_path, lock_timeout=0.2)
    foreign_writer = whoosh_index.open_dir(str(live_generation(index_path))).writer()
    try:
        with pytest.raises(IndexBusy):
            impatient.add_or_replace([make_doc("r2")])
    finally:
        foreign_writer.cancel()

    impatient.add_or_replace([make_doc("r2")])
    assert sorted(ids(search(index, ""))) == ["r1", "r2"]
    impatient.close()


def test_concurrent_writers_in_one_process_lose_nothing(index: WhooshSearchIndex) -> None:
    def write(worker: int) -> None:
        for batch in range(4):
            index.add_or_replace([make_doc(f"w{worker}-{batch}")])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert index.stats().doc_count == 16


def test_stats_and_close(index_path: Path) -> None:
    opened = open_whoosh_index(index_path)
    opened.add_or_replace([make_doc("r1"), replace(make_doc("r2"), is_current=False)])

    stats = opened.stats()
    assert (stats.doc_count, stats.schema_version, stats.path) == (2, 1, str(index_path))
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


def test_segments_are_written_as_separate_files_not_compound(index_path: Path) -> None:
    """A compound segment is copied into memory by every searcher that opens it."""
    opened = open_whoosh_index(index_path)
    opened.rebuild([make_doc("r1"), make_doc("r2")])
    opened.add_or_replace([make_doc("r3")])
    assert opened.search(SearchQuery(), REVIEWER).total == 3
    opened.close()
    names = [p.name for p in index_path.rglob("*") if p.is_file()]
    assert any(name.endswith(".trm") for name in names)
    assert not [name for name in names if name.endswith(".seg")]


def test_a_rebuild_in_several_processes_finds_what_one_process_finds(tmp_path: Path) -> None:
    words = ["helpline", "refuge", "advocacy", "outreach", "counselling", "evaluation"]
    docs = [
        make_doc(
            f"r{n:03d}",
            text=" ".join(words[(n + k) % len(words)] for k in range(n % 4 + 1)),
            record_type=("minutes", "invoice", "contract")[n % 3],
            contract_ref=f"OPCC-{n % 5}",
        )
        for n in range(240)
    ]
    single, spread = open_whoosh_index(tmp_path / "one"), open_whoosh_index(tmp_path / "two")
    try:
        assert single.rebuild(docs) == 240
        progress: list[int] = []
        assert spread.rebuild(docs, progress.append, processes=2) == 240
        assert progress[-1] == 240
        for text in ["helpline", "refuge AND outreach", '"advocacy outreach"', "counsel*"]:
            one, two = (search(ix, text, page_size=200, sort="date") for ix in (single, spread))
            assert one.total > 0
            assert (sorted(ids(one)), one.total, one.facets) == (
                sorted(ids(two)),
                two.total,
                two.facets,
            )
        # One segment per writer process, each holding part of the documents.
        for path, expected in ((tmp_path / "one", 1), (tmp_path / "two", 2)):
            with whoosh_index.open_dir(str(live_generation(path))).reader() as reader:
                parts = [leaf.doc_count() for leaf, _ in reader.leaf_readers()]
            assert len(parts) == expected and sum(parts) == 240 and min(parts) > 0
    finally:
        single.close()
        spread.close()


def test_stats_say_rebuilding_while_another_holder_has_the_rebuild_lock(
    index: WhooshSearchIndex, tmp_path: Path
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
