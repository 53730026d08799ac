"""The two baseline engines of the search benchmark: SQLite FTS5 and tantivy.

Each is built from the same documents and answers the same queries with the
same work as the service's search: a page of 20 hits with highlighted
snippets, the total number of matches, and facet counts by record type,
contract and year over every match. Both run in the benchmark's own process,
so they are compared with Whoosh's engine-only latency (also in-process),
not with HTTP round trips.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import tantivy  # type: ignore[import-not-found,unused-ignore]

from benchmarks._search_corpus import QueryCase
from records_service.indexing import IndexDocument

PAGE = 20
BATCH = 2000


class Engine(Protocol):
    """A built index that can run one benchmark query."""

    def run(self, case: QueryCase) -> int:
        """Run ``case``; return the total number of matches."""
        ...


@dataclass(frozen=True)
class Built:
    """An engine with what building it cost."""

    engine: Engine
    seconds: float
    cpu_seconds: float
    size_bytes: int


def _timed(build: Callable[[], Engine], directory: Path) -> Built:
    import os

    started, cpu = time.perf_counter(), os.times()
    engine = build()
    after = os.times()
    spent = (after.user - cpu.user) + (after.system - cpu.system)
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return Built(engine, time.perf_counter() - started, spent, size)


# --- SQLite FTS5 ----------------------------------------------------------------------


class Fts5:
    """An FTS5 table of the text fields (porter stemmer), and a plain metadata table.

    Metadata lives in an ordinary table keyed by the FTS rowid: counting facets
    through FTS5's own UNINDEXED columns was 25 to 50 times slower, as every
    match was fetched through the virtual table.
    """

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)

    def build(self, docs: Iterable[IndexDocument]) -> Fts5:
        """Index ``docs`` and optimise the index."""
        self.db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(title, provider, text, "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        self.db.execute(
            "CREATE TABLE meta(id INTEGER PRIMARY KEY, record_id TEXT, contract_ref TEXT, "
            "record_type TEXT, year INTEGER, record_date TEXT)"
        )
        with self.db:
            for rowid, d in enumerate(docs, start=1):
                self.db.execute(
                    "INSERT INTO docs(rowid, title, provider, text) VALUES (?, ?, ?, ?)",
                    (rowid, d.title, d.provider or "", d.text),
                )
                self.db.execute(
                    "INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        rowid,
                        d.record_id,
                        d.contract_ref,
                        d.record_type,
                        d.record_date.year,
                        d.record_date.isoformat(),
                    ),
                )
            self.db.execute("CREATE INDEX meta_contract ON meta(contract_ref)")
        with self.db:
            self.db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        return self

    def run(self, case: QueryCase) -> int:
        """Page with snippets, then the three facets (their sum is the total)."""
        where, params = "docs MATCH ?", [case.text]
        if case.contract:
            where, params = where + " AND m.contract_ref = ?", [*params, case.contract]
        order = "m.record_date DESC" if case.sort == "date" else "rank"
        joined = f"FROM docs JOIN meta m ON m.id = docs.rowid WHERE {where}"
        self.db.execute(
            "SELECT m.record_id, docs.title, m.contract_ref, m.record_type, m.record_date, "
            "bm25(docs, 2.0, 1.0, 1.0), snippet(docs, 2, '<mark>', '</mark>', ' … ', 40) "
            f"{joined} ORDER BY {order} LIMIT {PAGE}",
            params,
        ).fetchall()
        total = 0
        for column in ("record_type", "contract_ref", "year"):
            counts = self.db.execute(
                f"SELECT m.{column}, COUNT(*) {joined} GROUP BY 1", params
            ).fetchall()
            total = sum(n for _, n in counts)
        return total


def build_fts5(directory: Path, docs: list[IndexDocument]) -> Built:
    """Build the FTS5 baseline in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return _timed(lambda: Fts5(directory / "fts5.db").build(docs), directory)


# --- tantivy --------------------------------------------------------------------------


def _tantivy_schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("record_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("provider", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("contract_ref", stored=True, fast=True, tokenizer_name="raw")
    builder.add_text_field("record_type", stored=True, fast=True, tokenizer_name="raw")
    builder.add_integer_field("year", stored=True, indexed=True, fast=True)
    builder.add_date_field("record_date", stored=True, indexed=True, fast=True)
    return builder.build()


class Tantivy:
    """A tantivy index with stemmed text and fast fields for facets and date order."""

    def __init__(self, path: Path) -> None:
        self.schema = _tantivy_schema()
        self.index = tantivy.Index(self.schema, path=str(path))

    def build(self, docs: Iterable[IndexDocument]) -> Tantivy:
        """Index ``docs`` with tantivy's own writer threads, then commit and reload."""
        writer = self.index.writer(heap_size=512_000_000, num_threads=2)
        for d in docs:
            writer.add_document(
                tantivy.Document(
                    record_id=d.record_id,
                    title=d.title,
                    text=d.text,
                    provider=d.provider or "",
                    contract_ref=d.contract_ref or "",
                    record_type=d.record_type,
                    year=d.record_date.year,
                    record_date=datetime(
                        d.record_date.year, d.record_date.month, d.record_date.day, tzinfo=UTC
                    ),
                )
            )
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        return self

    def run(self, case: QueryCase) -> int:
        """Page with snippets, the total, and three terms aggregations."""
        # tantivy's parser joins words with OR; the service's default is AND.
        text = case.text if case.text.startswith('"') else _all_required(case.text)
        query = self.index.parse_query(text, ["title", "text", "provider"])
        if case.contract:
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.term_query(self.schema, "contract_ref", case.contract),
                    ),
                ]
            )
        searcher = self.index.searcher()
        if case.sort == "date":
            result = searcher.search(query, PAGE, count=True, order_by_field="record_date")
        else:
            result = searcher.search(query, PAGE, count=True)
        snippets = tantivy.SnippetGenerator.create(searcher, query, self.schema, "text")
        for _, address in result.hits:
            doc = searcher.doc(address)
            snippets.snippet_from_doc(doc).to_html()
        searcher.aggregate(
            query,
            {
                "record_type": {"terms": {"field": "record_type", "size": 50}},
                "contract": {"terms": {"field": "contract_ref", "size": 20}},
                "year": {"terms": {"field": "year", "size": 50}},
            },
        )
        # The stub lacks the count that search(count=True) sets.
        return int(result.count)  # type: ignore[attr-defined]


def _all_required(text: str) -> str:
    return " ".join(f"+{word}" for word in text.split())


def build_tantivy(directory: Path, docs: list[IndexDocument]) -> Built:
    """Build the tantivy baseline in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return _timed(lambda: Tantivy(directory).build(docs), directory)
