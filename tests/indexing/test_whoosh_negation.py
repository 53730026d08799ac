"""Exclusions are exact, whatever the order of documents inside one segment.

Whoosh 2.7's ``AndNot`` matcher misses the exclusion of the first positive
match when the excluded term occurs in an earlier document. That hid a
user's own sensitive record from them, and let ``ANDNOT`` return documents
it should exclude; the index now avoids that matcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from records_service.indexing import (
    IndexDocument,
    SearchQuery,
    Visibility,
    WhooshSearchIndex,
    open_whoosh_index,
)


def doc(record_id: str, text: str, classification: str, captured_by: str) -> IndexDocument:
    return IndexDocument(
        record_id=record_id,
        version=1,
        is_current=True,
        title=f"Record {record_id}",
        text=text,
        record_type="correspondence",
        contract_ref="OPCC-1",
        provider=None,
        tags=(),
        record_date=date(2024, 1, 1),
        captured_at=datetime(2024, 1, 2, tzinfo=UTC),
        classification=classification,
        originator=None,
        captured_by=captured_by,
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[WhooshSearchIndex]:
    opened = open_whoosh_index(tmp_path / "index")
    yield opened
    opened.close()


def ids(index: WhooshSearchIndex, text: str, who: Visibility) -> list[str]:
    return sorted(hit.record_id for hit in index.search(SearchQuery(text=text), who).hits)


def test_a_capturer_sees_their_sensitive_record_beside_their_other_records(
    index: WhooshSearchIndex,
) -> None:
    # One batch, so one segment: the open record comes first.
    index.add_or_replace(
        [
            doc("a-open", "helpline budget agreed", "OFFICIAL", "sam"),
            doc("b-secret", "helpline budget hides marigold", "OFFICIAL-SENSITIVE", "sam"),
            doc("c-secret", "helpline budget names kestrel", "OFFICIAL-SENSITIVE", "sue"),
        ]
    )

    assert ids(index, "helpline", Visibility(False, "sam")) == ["a-open", "b-secret"]
    assert ids(index, "helpline", Visibility(False, "sue")) == ["a-open", "c-secret"]
    assert ids(index, "helpline", Visibility(False, "bob")) == ["a-open"]
    assert ids(index, "marigold", Visibility(False, "sam")) == ["b-secret"]


@pytest.mark.parametrize("operator", ["ANDNOT", "NOT", "AND NOT"])
def test_excluded_words_exclude_the_first_match_too(
    index: WhooshSearchIndex, operator: str
) -> None:
    everyone = Visibility(True, "rita")
    index.add_or_replace(
        [
            doc("a", "pending review", "OFFICIAL", "sam"),
            doc("b", "budget pending", "OFFICIAL", "sam"),
            doc("c", "budget approved", "OFFICIAL", "sam"),
        ]
    )

    assert ids(index, f"budget {operator} pending", everyone) == ["c"]
    assert ids(index, f"(budget OR review) {operator} approved", everyone) == ["a", "b"]
