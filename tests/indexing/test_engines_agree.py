"""Whoosh and tantivy answer the same queries alike: hits, totals, facets and refusals.

One corpus is built once in each engine (module-scoped: the indexes are only
read), then several hundred queries run on both: a list covering every part of
the syntax, and random combinations of words, operators, fields, phrases,
wildcards, dates and ranges. Ranking may differ, so hits are compared as sets.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from records_service.indexing import (
    OFFICIAL_SENSITIVE,
    IndexDocument,
    QuerySyntaxError,
    SearchIndex,
    SearchQuery,
    Visibility,
)

from .engines import ENGINES, make_doc

WORDS = [
    "funding",
    "funded",
    "panel",
    "grant",
    "money",
    "value",
    "audit",
    "budget",
    "pending",
    "café",
    "cafe",
    "resume",
    "résumé",
    "refuge",
    "helpline",
    "review",
    "approved",
    "outreach",
    "counselling",
    "the",
    "for",
    "of",
    "a",
]
PEOPLE = ("bob", "alice", "carol")


def _corpus() -> list[IndexDocument]:
    rng = random.Random(20240607)
    docs = []
    for n in range(90):
        versions = 1 + n % 3
        for version in range(1, versions + 1):
            docs.append(
                make_doc(
                    f"r{n:02d}",
                    version,
                    is_current=version == versions,
                    title=" ".join(rng.choices(WORDS, k=3)).capitalize(),
                    text=" ".join(rng.choices(WORDS, k=rng.randint(4, 30))) + ".",
                    record_type=rng.choice(["minutes", "invoice", "contract"]),
                    contract_ref=rng.choice(["OPCC-1", "OPCC-2", None]),
                    provider=rng.choice([None, "Safe Homes Trust", "Victim Support"]),
                    tags=tuple(rng.sample(["Urgent", "Finance", "Panel"], k=rng.randint(0, 2))),
                    record_date=date(2019 + n % 6, 1 + n % 12, 1 + n % 28),
                    captured_at=datetime(2024, 1 + n % 12, 1 + version, n % 24, tzinfo=UTC),
                    classification=OFFICIAL_SENSITIVE if n % 7 == 0 else "OFFICIAL",
                    captured_by=PEOPLE[n % 3],
                )
            )
    return docs


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SearchIndex]]:
    docs = _corpus()
    opened: dict[str, SearchIndex] = {}
    for name, opener in ENGINES.items():
        index = opener(Path(tmp_path_factory.mktemp(name)) / "index")
        index.rebuild(docs)
        opened[name] = index
    yield opened
    for built in opened.values():
        built.close()


def _answer(index: SearchIndex, query: SearchQuery, who: Visibility) -> object:
    try:
        result = index.search(query, who)
    except QuerySyntaxError as exc:
        return ("refused", str(exc))
    keys = sorted((hit.record_id, hit.version, hit.is_current) for hit in result.hits)
    return (keys, result.total, result.facets)


def _agree(both: dict[str, SearchIndex], text: str, **kw: object) -> object:
    query = SearchQuery(text=text, page_size=200, **kw)  # type: ignore[arg-type]
    who = Visibility(see_sensitive=False, username="bob")
    answers = {name: _answer(index, query, who) for name, index in both.items()}
    assert answers["whoosh"] == answers["tantivy"], text
    return answers["whoosh"]


COVERING = [
    "", "funding", "funded", "cafe", "café", "resume", "résumé", "funding panel",
    "funding OR grant", "NOT audit", "budget ANDNOT pending", "(grant OR money) AND panel",
    "budget ANDMAYBE review", '"value money"', '"money value"', '"value money"~2',
    '"value money"~3', '"funding the panel"', "fund*", "re?iew", "*", "*:*", "c*e",
    "title:funding", 'title:"budget review"', "title:(audit OR refuge)", "text:helpline",
    "provider:victim", 'provider:"safe homes"', "originator:commissioning",
    "type:minutes", "Record_Type:INVOICE", "contract:opcc-1", "contract:OPCC-2",
    "tag:urgent", "tags:finance", 'tag:"urgent"', "tag:urg*", "classification:official",
    "captured_by:alice", "id:r05", "id:r0*", "current:false", "is_current:true",
    "version:2", "version:>1", "version:>=2", "version:<2", "version:[1 TO 2]",
    "version:{1 TO 3}", "year:2021", "year:[2020 TO 2022]", "year:>2022",
    "date:2021", "date:2021-03", "date:2022-03-03", "date:[2020-06 TO 2021-06]",
    "date:>=2023-01-01", "date:<2020", "date:>2023", "date:{2020 TO 2022}", "captured:2024-03",
    "funding^3 panel", '"value money"^2', "10:30 meeting", "e.g. example.org",
    "funding -panel", "NOT NOT funding", "funding NOT (pending AND cancelled)",
    "the funding", "funding AND the", "the", "x", "date:2021-13", "version:abc",
    "tags:\"a, b\"", "[a TO c]", "nosuch:field",
]  # fmt: skip


@pytest.mark.parametrize("text", COVERING)
def test_the_engines_agree_on_every_part_of_the_syntax(
    both: dict[str, SearchIndex], text: str
) -> None:
    _agree(both, text)


def test_the_engines_agree_on_filters_sorting_pages_and_visibility(
    both: dict[str, SearchIndex],
) -> None:
    for filters in (
        {"contract_ref": "OPCC-1"},
        {"record_types": ("minutes", "invoice")},
        {"tags": ("urgent", "finance")},
        {"date_from": date(2020, 3, 1), "date_to": date(2022, 6, 30)},
        {"classification": OFFICIAL_SENSITIVE},
        {"all_versions": True},
    ):
        _agree(both, "funding OR panel", **filters)
    for who in (Visibility(True, "rita", frozenset({"r03", "r10"})), Visibility(False, "alice")):
        answers = [
            index.search(SearchQuery(text="budget", page_size=200), who) for index in both.values()
        ]
        assert {(h.record_id, h.version) for h in answers[0].hits} == {
            (h.record_id, h.version) for h in answers[1].hits
        }
        assert answers[0].facets == answers[1].facets
    by_date = [
        [h.record_date for h in index.search(SearchQuery(sort="date", page_size=50), REVIEW).hits]
        for index in both.values()
    ]
    assert by_date[0] == by_date[1] == sorted(by_date[0], reverse=True)
    pages = [
        index.search(SearchQuery(text="review", page=3, page_size=7), REVIEW)
        for index in both.values()
    ]
    assert pages[0].total == pages[1].total and len(pages[0].hits) == len(pages[1].hits)


REVIEW = Visibility(see_sensitive=True, username="rita")


def test_the_engines_agree_on_random_queries(both: dict[str, SearchIndex]) -> None:
    pieces = [*WORDS, "AND", "OR", "NOT", "ANDNOT", "(", ")", '"value money"', '"panel grant"~2',
              "fund*", "re?iew", "title:", "type:minutes", "tag:urgent", "version:2", "version:>1",
              "year:[2020 TO 2022]", "date:2021", "date:>=2023-01", "current:false",
              "contract:OPCC-1", "provider:safe", "captured:2024-02", "id:r05", '"']  # fmt: skip
    rng = random.Random(7)
    answered = refused = 0
    for _ in range(300):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        answer = _agree(both, text.replace("title: ", "title:"), all_versions=rng.random() < 0.3)
        refused += isinstance(answer, tuple) and answer[0] == "refused"
        answered += not (isinstance(answer, tuple) and answer[0] == "refused")
    assert answered > 150 and refused > 10  # both kinds were really compared
