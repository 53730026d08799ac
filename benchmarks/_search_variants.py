"""Whoosh writer settings tried for the bulk (re)index, measured side by side.

Each variant bulk-indexes the same documents into a fresh index laid out as
the service lays it out, so the service's own search code can then time the
benchmark queries on it. ``shipped`` is what ``WhooshSearchIndex.rebuild``
does today.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoosh import fields
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from benchmarks._harness import MIB, LatencySummary, format_table
from benchmarks._search_corpus import QueryCase
from records_service.indexing import IndexDocument, SearchQuery, Visibility, open_whoosh_index
from records_service.indexing._generations import read_pointer
from records_service.indexing._whoosh_schema import _prose_analyzer, build_schema, to_fields
from records_service.indexing.whoosh_index import COMPOUND_SEGMENTS, REBUILD_LIMITMB


def _schema_without_offsets() -> fields.Schema:
    schema = build_schema()
    schema.remove("text")
    schema.add("text", fields.TEXT(analyzer=_prose_analyzer(), stored=True))
    return schema


def _schema_without_stored_text() -> fields.Schema:
    schema = build_schema()
    schema.remove("text")
    schema.add("text", fields.TEXT(analyzer=_prose_analyzer(), chars=True))
    return schema


# name: (schema factory, writer keyword arguments, can the service's search run on it)
VARIANTS: dict[str, tuple[Callable[[], fields.Schema], dict[str, Any], bool]] = {
    "shipped (procs=1, limitmb=256, separate files)": (build_schema, {}, True),
    "compound segment (Whoosh's default)": (build_schema, {"compound": True}, True),
    "limitmb=64": (build_schema, {"limitmb": 64}, True),
    "no postings compression": (build_schema, {"codec": W3Codec(compression=0)}, True),
    "procs=2, multisegment": (build_schema, {"procs": 2, "multisegment": True}, True),
    "no character offsets": (_schema_without_offsets, {}, False),
    "text not stored": (_schema_without_stored_text, {}, False),
}


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def build_variant(
    name: str, root: Path, docs: list[IndexDocument], cases: list[QueryCase]
) -> dict[str, Any]:
    """Index ``docs`` with variant ``name``; time it, and the queries if search can run."""
    make_schema, writer_args, searchable = VARIANTS[name]
    open_whoosh_index(root).close()  # the service's layout, with an empty generation
    pointer = read_pointer(root)
    assert pointer is not None
    generation = root / pointer.generation
    ix = whoosh_index.create_in(str(generation), make_schema())
    cpu, started = _cpu(), time.perf_counter()
    shipped = {"limitmb": REBUILD_LIMITMB, "compound": COMPOUND_SEGMENTS}
    writer = ix.writer(**{**shipped, **writer_args})
    for doc in docs:
        writer.add_document(**to_fields(doc))
    writer.commit()
    wall, spent = time.perf_counter() - started, _cpu() - cpu
    ix.close()
    size = sum(f.stat().st_size for f in generation.iterdir())
    row: dict[str, Any] = {
        "variant": name,
        "records_per_second": len(docs) / wall,
        "records_per_cpu_second": len(docs) / spent,
        "index_mib": size / MIB,
    }
    if searchable:
        row.update(_query_times(root, cases))
    return row


def _query_times(root: Path, cases: list[QueryCase]) -> dict[str, float]:
    index = open_whoosh_index(root)
    everyone = Visibility(see_sensitive=True, username="bench")
    samples: list[float] = []
    for repeat in range(2):
        for case in cases:
            query = SearchQuery(text=case.text, contract_ref=case.contract, sort=case.sort)  # type: ignore[arg-type]
            started = time.perf_counter()
            index.search(query, everyone)
            if repeat:
                samples.append(time.perf_counter() - started)
    index.close()
    summary = LatencySummary.of(samples)
    return {"query_p50_ms": summary.p50_ms, "query_p95_ms": summary.p95_ms}


def variants_table(rows: list[dict[str, Any]]) -> str:
    """The variants as a plain-text table."""
    return format_table(
        ["variant", "records/s", "records/cpu-s", "index MiB", "query p50 ms", "query p95 ms"],
        [
            [
                r["variant"],
                r["records_per_second"],
                r["records_per_cpu_second"],
                r["index_mib"],
                r.get("query_p50_ms"),
                r.get("query_p95_ms"),
            ]
            for r in rows
        ],
    )
