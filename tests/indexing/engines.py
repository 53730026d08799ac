"""Helpers shared by the engine contract suite and the engine-specific tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from records_service.indexing import (
    IndexDocument,
    SearchIndex,
    SearchQuery,
    SearchResult,
    TantivySearchIndex,
    Visibility,
    WhooshSearchIndex,
    open_tantivy_index,
    open_whoosh_index,
)

Opener = Callable[..., WhooshSearchIndex | TantivySearchIndex]
ENGINES: dict[str, Opener] = {"whoosh": open_whoosh_index, "tantivy": open_tantivy_index}

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


def ids(result: SearchResult) -> list[str]:
    return [hit.record_id for hit in result.hits]


def search(
    index: SearchIndex, text: str = "", *, who: Visibility = REVIEWER, **kw: object
) -> SearchResult:
    return index.search(SearchQuery(text=text, **kw), who)  # type: ignore[arg-type]


def live_generation(index_path: Path) -> Path:
    pointer = json.loads((index_path / "index.json").read_text())
    return index_path / str(pointer["generation"])
