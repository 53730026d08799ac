"""tantivy snippets of long texts: cut to a window around the matches before analysis.

What a snippet marks must not depend on the shortcut: every hit whose text holds
a match gets a snippet marking it, and only words that match are marked, including
words the finder cannot see (accents at the start of a word, ``dying`` for ``die``,
letters that lowercase to two characters, dotted and ``_``-joined words).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from records_service.indexing import TantivySearchIndex, open_tantivy_index
from records_service.indexing._tantivy_schema import prose_analyzer
from records_service.indexing._tantivy_snippets import LONG_TEXT

from .engines import make_doc, search

FILLER = ("report", "quarter", "service", "provider", "meeting", "minutes", "budget",
          "the", "and", "of", "agreed", "review", "partner", "outcome", "2024", "item")  # fmt: skip
TRICKY = ("dying", "die", "happy", "happiness", "École", "ecole", "café", "Cafe", "e.g",
          "x_funding", "funding", "funded", "İstanbul", "istanbul", "naïve", "tie",
          "tying", "über", "Funding.")  # fmt: skip
QUERIES = ("die", "happiness", "ecole", "cafe", "e.g", "funding", "istanbul", "naive",
           "tie", "uber", "happy dying", "cafe funding")  # fmt: skip
_MARK = re.compile(r"<mark>(.*?)</mark>")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[TantivySearchIndex]:
    opened = open_tantivy_index(tmp_path / "index", lock_timeout=2.0)
    yield opened
    opened.close()


def _long_text(rng: random.Random) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(250, 700))]
    for _ in range(rng.randint(0, 3)):
        words[rng.randrange(len(words))] = rng.choice(TRICKY)
    return " ".join(words) + "."


def _stems(text: str) -> set[str]:
    return set(prose_analyzer().analyze(text))


def test_every_hit_of_a_long_text_marks_its_matches_and_only_them(
    index: TantivySearchIndex,
) -> None:
    rng = random.Random(7)
    texts = {f"r{n}": _long_text(rng) for n in range(60)}
    assert min(len(text) for text in texts.values()) > LONG_TEXT  # the window is used
    index.add_or_replace(
        [
            make_doc(key, text=text, title="Letter", provider="", originator="")
            for key, text in texts.items()
        ]
    )
    for query in QUERIES:
        terms = _stems(query)
        result = search(index, query, page_size=100)
        expected = {key for key, text in texts.items() if terms <= _stems(text)}
        assert {hit.record_id for hit in result.hits} == expected, query
        for hit in result.hits:
            marked = _MARK.findall(hit.snippet)
            assert marked, (query, hit.record_id, hit.snippet)
            assert all(_stems(word) & terms for word in marked), (query, marked)


def test_the_window_is_where_the_most_query_words_meet(index: TantivySearchIndex) -> None:
    text = (
        "Funding was discussed. " + "filler words here " * 80
        + "Funding for the refuge was agreed by the panel. " + "more filler " * 80
    )  # fmt: skip
    index.add_or_replace([make_doc("r1", text=text)])

    snippet = search(index, "funding refuge").hits[0].snippet

    assert "<mark>Funding</mark> for the <mark>refuge</mark> was agreed" in snippet


def test_a_long_text_without_a_match_gives_the_marked_title(index: TantivySearchIndex) -> None:
    text = "Nothing relevant in these words at all. " * 60
    index.add_or_replace([make_doc("r1", title="Asbestos survey", text=text)])

    assert search(index, "asbestos").hits[0].snippet == "<mark>Asbestos</mark> survey"
