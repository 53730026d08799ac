"""The search scale run: the service's engine (``TantivySearchIndex``) at 1,000,000 records.

Run from the repository root::

    .venv/bin/python -m benchmarks.search_scale [--quick] [--records 1000000]
        [--min-words 100] [--max-words 1000] [--processes 2] [--queries-per-kind 40]
        [--json out.json] [--work-dir DIR]

Documents come from the search benchmark's corpus generator (``_search_corpus``),
streamed straight into ``TantivySearchIndex.rebuild(processes=2)`` in this process,
as ``records-service reindex`` feeds it (the database is left out: at this size
loading one would take longer than the build). Texts are shorter than the
100,000-record benchmark's (100 to 1,000 words by default, against 300 to 3,000)
so that the run stays within an hour on 2 cores; the mean is reported. Then every
query kind of the benchmark, plus a visibility-masked term (a user who may not see
others' sensitive records), a date range, a wildcard and match-all, runs through
``TantivySearchIndex.search`` (page of 20 with snippets, total, three facets).
Reported: build time and rate, CPU, index size on disk, peak RSS of this process
during the build and the queries, and p50 / p95 / max of every query kind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    MIB,
    LatencySummary,
    RssSampler,
    format_table,
    machine_info,
    source_revision,
    write_json,
)
from benchmarks._search_corpus import DOMAIN, make_contracts, make_documents, make_queries
from benchmarks._search_service import EVERYONE, directory_bytes
from records_service.indexing import (
    IndexDocument,
    SearchQuery,
    TantivySearchIndex,
    Visibility,
    open_tantivy_index,
)

STAFF = Visibility(see_sensitive=False, username="user03")


class Counted:
    """Documents passed through, with their count and total words."""

    def __init__(self, docs: Iterable[IndexDocument]) -> None:
        self._docs = docs
        self.count = 0
        self.words = 0

    def __iter__(self) -> Iterator[IndexDocument]:
        for doc in self._docs:
            self.count += 1
            self.words += doc.text.count(" ") + 1
            yield doc


def build(index: TantivySearchIndex, args: argparse.Namespace) -> dict[str, Any]:
    """Rebuild ``index`` from the generated documents; time, CPU and peak RSS."""
    contracts = make_contracts(args.contracts)
    docs = Counted(
        make_documents(args.records, contracts, min_words=args.min_words, max_words=args.max_words)
    )
    step = max(args.records // 20, 1)

    def progress(done: int) -> None:
        if done % step == 0 and done < args.records:
            print(f"  {done:,} documents, {time.perf_counter() - started:,.0f} s", flush=True)

    cpu = _cpu()
    started = time.perf_counter()
    with RssSampler(os.getpid(), interval_s=0.5) as rss:
        index.rebuild(docs, progress, processes=args.processes)
    wall = time.perf_counter() - started
    return {
        "documents": docs.count,
        "words_per_document": docs.words / max(docs.count, 1),
        "build_seconds": wall,
        "cpu_seconds": _cpu() - cpu,
        "documents_per_second": docs.count / wall,
        "peak_rss_mib": rss.peak_own / MIB,
    }


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def queries(contracts_count: int, per_kind: int) -> list[tuple[str, SearchQuery, Visibility]]:
    """The benchmark's five kinds, and four more that the service also answers."""
    cases: list[tuple[str, SearchQuery, Visibility]] = []
    for case in make_queries(make_contracts(contracts_count), per_kind):
        query = SearchQuery(text=case.text, contract_ref=case.contract, sort=case.sort)  # type: ignore[arg-type]
        cases.append((case.kind, query, EVERYONE))
    for n in range(per_kind):
        word = DOMAIN[n % len(DOMAIN)]
        cases.append(("term, visibility mask", SearchQuery(text=word), STAFF))
        cases.append(
            (
                "term, date range",
                SearchQuery(
                    text=word, date_from=date(2015 + n % 8, 1, 1), date_to=date(2016 + n % 8, 6, 30)
                ),
                EVERYONE,
            )
        )
        cases.append(("wildcard", SearchQuery(text=f"{word[:4]}*"), EVERYONE))
        cases.append(
            ("match all", SearchQuery(text="", sort="date" if n % 2 else "relevance"), EVERYONE)
        )
    return cases


def time_queries(
    index: TantivySearchIndex, cases: list[tuple[str, SearchQuery, Visibility]]
) -> dict[str, Any]:
    """Every case once as a warm-up, then once timed; summaries per kind, and totals seen."""
    for _, query, visibility in cases:
        index.search(query, visibility)
    samples: dict[str, list[float]] = defaultdict(list)
    totals: dict[str, list[int]] = defaultdict(list)
    with RssSampler(os.getpid()) as rss:
        for kind, query, visibility in cases:
            started = time.perf_counter()
            total = index.search(query, visibility).total
            samples[kind].append(time.perf_counter() - started)
            totals[kind].append(total)
    return {
        "latency": {kind: asdict(LatencySummary.of(found)) for kind, found in samples.items()},
        "median_total": {kind: sorted(found)[len(found) // 2] for kind, found in totals.items()},
        "peak_rss_mib": rss.peak_own / MIB,
    }


def report(result: dict[str, Any]) -> str:
    """The build and the queries as plain-text tables."""
    b = result["build"]
    build_rows = [
        ["documents", b["documents"]],
        ["words per document (mean)", b["words_per_document"]],
        ["build s", b["build_seconds"]],
        ["documents/s", b["documents_per_second"]],
        ["CPU s", b["cpu_seconds"]],
        ["index MiB on disk", result["index_mib"]],
        ["peak RSS MiB, build", b["peak_rss_mib"]],
        ["peak RSS MiB, queries", result["queries"]["peak_rss_mib"]],
        ["peak RSS MiB, whole run (ru_maxrss)", result["max_rss_mib"]],
    ]
    q = result["queries"]
    rows = [
        [kind, s["count"], q["median_total"][kind], s["p50_ms"], s["p95_ms"], s["max_ms"]]
        for kind, s in q["latency"].items()
    ]
    return "\n\n".join(
        [
            "Build (TantivySearchIndex.rebuild, in process)\n"
            + format_table(["figure", "value"], build_rows),
            "Queries (page of 20 with snippets, total, facets)\n"
            + format_table(["kind", "n", "median total", "p50 ms", "p95 ms", "max ms"], rows),
        ]
    )


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build the index in ``work``, then time the queries on it."""
    index = open_tantivy_index(work / "index")
    try:
        print(f"building {args.records:,} documents", flush=True)
        built = build(index, args)
        print("queries", flush=True)
        timed = time_queries(index, queries(args.contracts, args.queries_per_kind))
    finally:
        index.close()
    return {
        "build": built,
        "index_mib": directory_bytes(work / "index") / MIB,
        "queries": timed,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="Documents to index.")
    parser.add_argument("--min-words", type=int, default=100, help="Shortest text, in words.")
    parser.add_argument("--max-words", type=int, default=1000, help="Longest text, in words.")
    parser.add_argument("--processes", type=int, default=2, help="rebuild(processes=N).")
    parser.add_argument("--contracts", type=int, default=3000, help="Contracts in the corpus.")
    parser.add_argument("--queries-per-kind", type=int, default=40, help="Queries of each kind.")
    parser.add_argument("--json", type=Path, default=None, help="Write all figures as JSON.")
    parser.add_argument("--work-dir", type=Path, default=None, help="Keep the index here.")
    parser.add_argument("--quick", action="store_true", help="A smoke run: 5,000 documents.")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Run the scale run and print (and optionally save) the results."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    if args.quick:
        args.records, args.queries_per_kind = 5000, 6
    info, source = machine_info(), source_revision()
    print(f"machine: {info}, source {source}", flush=True)
    with contextlib.ExitStack() as stack:
        if args.work_dir:
            work = args.work_dir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="search-scale-")))
        result = run(args, work)
    info["load_1m_at_end"] = f"{os.getloadavg()[0]:.2f}"
    result = {"machine": info, "source": source, "command": " ".join(sys.argv), **result}
    print(report(result))
    print(
        f"\nload average (1 min): {info['load_1m_at_start']} at start, "
        f"{info['load_1m_at_end']} at end"
    )
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
