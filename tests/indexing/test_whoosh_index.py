"""Whoosh-only behaviour of the Whoosh search index: its write lock, its segment files
and its multiprocessing rebuild. The engine contract is in test_engine_contract.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from records_service.indexing import IndexBusy, SearchQuery, WhooshSearchIndex, open_whoosh_index

from .engines import REVIEWER, ids, live_generation, make_doc, search


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(index_path: Path) -> Iterator[WhooshSearchIndex]:
    opened = open_whoosh_index(index_path, lock_timeout=2.0)
    yield opened
    opened.close()


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
