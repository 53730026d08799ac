"""The search benchmark: the service's search (tantivy, the default engine) against
Whoosh, SQLite FTS5 and bare tantivy on the same corpus, in the same run.

Run from the repository root::

    .venv/bin/python -m benchmarks.search [--quick] [--sizes 10000,100000]
        [--whoosh-max 100000] [--queries-per-kind 40] [--whoosh-queries-per-kind 20]
        [--captures 40] [--json out.json] [--profile-dir DIR] [--check]

For each size a deterministic corpus is generated (``_search_corpus``) and loaded
into a fresh service database as captured records (``_search_db``). Then:

1. **the service** (``_search_service``, engine tantivy): ``records-service
   reindex`` (records/s, reading the database included), ``records-service
   serve`` answering the queries over HTTP with a bearer token and the audit
   entry (p50/p95 per kind), the RSS of ``serve`` and all its processes while one
   and then four clients search, captures found by a word of their title and of
   their text while captures continue; then the same queries through the
   engine alone in this process (``TantivySearchIndex``);
2. **Whoosh** the same way, on the same database with its own index directory,
   up to ``--whoosh-max`` records (a Whoosh rebuild of 100,000 records takes
   about half an hour on 2 cores). It runs the first ``--whoosh-queries-per-kind``
   queries of each kind. Above ``--whoosh-max`` it is reported as not measured;
3. **SQLite FTS5 and bare tantivy** index the same documents and answer the
   same queries in this process, doing the same work (a page of 20 with
   snippets, the total, three facets).

Every figure of the service is reported as a ratio to each baseline, and the
issue's targets are checked (PASS / MISS) at every size; they are set for
100,000 records. ``--profile-dir`` saves cProfile output of the service's
reindex and of its engine's queries. Figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    MIB,
    machine_info,
    run_cli,
    source_revision,
    write_json,
)
from benchmarks._search_baselines import Built, build_fts5, build_tantivy
from benchmarks._search_corpus import (
    Contract,
    QueryCase,
    make_contracts,
    make_documents,
    make_queries,
)
from benchmarks._search_report import check_targets, report
from benchmarks._search_service import (
    EVERYONE,
    Deployment,
    latencies,
    load_corpus,
    measure_deployment,
)
from records_service.indexing import IndexDocument, SearchQuery

KINDS_COUNT = 5  # make_queries gives one query of each kind per round


def measure_baseline(
    name: str,
    build: Callable[[Path, list[IndexDocument]], Built],
    work: Path,
    docs: list[IndexDocument],
    cases: list[QueryCase],
) -> dict[str, Any]:
    """Build one baseline engine in this process and time the queries on it."""
    print(f"  baseline {name}", flush=True)
    built = build(work / f"{name}-{len(docs)}", docs)
    return {
        "index_seconds": built.seconds,
        "records_per_second": len(docs) / built.seconds,
        "records_per_cpu_second": len(docs) / max(built.cpu_seconds, 1e-9),
        "index_mib": built.size_bytes / MIB,
        "engine": latencies(built.engine.run, cases),
    }


def _tokens(deployment: Deployment) -> dict[str, str]:
    """A reviewer who searches and a staff member who captures; their API tokens."""
    tokens = {}
    for key, name, role in (("reader", "bench", "reviewer"), ("writer", "benchcap", "staff")):
        words = run_cli(
            deployment.data_dir, "users", "add", name, "--role", role, env=deployment.env
        )
        tokens[key] = words.split()[-1]
    return tokens


def profile_engine(deployment: Deployment, cases: Sequence[QueryCase], out: Path) -> str:
    """cProfile of every query on the service's engine, in this process, after a warm-up."""
    out.parent.mkdir(parents=True, exist_ok=True)
    index = deployment.open_engine()
    queries = [SearchQuery(text=c.text, contract_ref=c.contract, sort=c.sort) for c in cases]  # type: ignore[arg-type]
    for query in queries:
        index.search(query, EVERYONE)
    profiler = cProfile.Profile()
    for query in queries:
        profiler.runcall(index.search, query, EVERYONE)
    profiler.dump_stats(str(out))
    index.close()
    return str(out)


def run_size(
    args: argparse.Namespace, work: Path, size: int, contracts: list[Contract]
) -> dict[str, Any]:
    """Generate the corpus of ``size`` records and measure the service and every baseline."""
    print(f"size {size}: generating the corpus", flush=True)
    started = time.perf_counter()
    docs = list(make_documents(size, contracts))
    result: dict[str, Any] = {
        "size": size,
        "words_per_record": sum(len(d.text.split()) for d in docs) / size,
        "corpus_seconds": time.perf_counter() - started,
        "baselines": {},
    }
    cases = make_queries(contracts, args.queries_per_kind)
    for name, build in (("fts5", build_fts5), ("tantivy", build_tantivy)):
        result["baselines"][name] = measure_baseline(name, build, work, docs, cases)
    service = Deployment("tantivy", work / f"service-{size}")
    print("  loading the service database", flush=True)
    result["load_seconds"] = load_corpus(service.data_dir, docs, contracts)
    del docs  # the service reads the database from here on
    tokens = _tokens(service)
    profile_dir = args.profile_dir / str(size) if args.profile_dir else None
    result["service"] = measure_deployment(service, tokens, cases, args.captures, profile_dir)
    if profile_dir:
        result["service"]["query_profile"] = profile_engine(
            service, cases, profile_dir / "tantivy-queries.prof"
        )
    result["whoosh"] = {}
    if size <= args.whoosh_max:
        whoosh = Deployment("whoosh", service.data_dir)
        few = cases[: args.whoosh_queries_per_kind * KINDS_COUNT]
        result["whoosh"] = measure_deployment(whoosh, tokens, few, args.captures)
    result["targets"] = check_targets(result)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="Corpus sizes, comma-separated.")
    parser.add_argument(
        "--whoosh-max",
        type=int,
        default=10000,
        help="Largest size Whoosh is measured at (reindex, serve, engine); above it, not measured.",
    )
    parser.add_argument("--contracts", type=int, default=3000, help="Contracts in the corpus.")
    parser.add_argument("--queries-per-kind", type=int, default=40, help="Queries of each kind.")
    parser.add_argument(
        "--whoosh-queries-per-kind",
        type=int,
        default=20,
        help="Whoosh runs the first N queries of each kind (its queries take seconds).",
    )
    parser.add_argument(
        "--captures", type=int, default=40, help="Captures timed until found by search."
    )
    parser.add_argument("--profile-dir", type=Path, default=None, help="Save cProfile output here.")
    parser.add_argument("--json", type=Path, default=None, help="Write all figures as JSON.")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="Keep indexes and databases here (default: a temporary directory, removed).",
    )
    parser.add_argument("--check", action="store_true", help="Exit 1 if a target is missed.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="A smoke run: 500 records, Whoosh included, few queries.",
    )
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) the results."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    if args.quick:
        args.sizes, args.whoosh_max, args.queries_per_kind = "500", 500, 6
        args.whoosh_queries_per_kind, args.captures = 6, 5
    sizes = [int(s) for s in args.sizes.split(",")]
    contracts = make_contracts(args.contracts)
    run: dict[str, Any] = {
        "machine": machine_info(),
        "source": source_revision(),
        "command": " ".join(sys.argv),
        "sizes": [],
    }
    print(f"machine: {run['machine']}, source {run['source']}", flush=True)
    with contextlib.ExitStack() as stack:
        if args.work_dir:
            work = args.work_dir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="search-bench-")))
        for size in sizes:
            run["sizes"].append(run_size(args, work, size, contracts))
            if args.json:  # after each size, so a long run keeps what it measured
                write_json(args.json, run)
    run["machine"]["load_1m_at_end"] = f"{os.getloadavg()[0]:.2f}"
    print(report(run["sizes"]))
    print(
        f"\nload average (1 min): {run['machine']['load_1m_at_start']} at start, "
        f"{run['machine']['load_1m_at_end']} at end"
    )
    if args.json:
        write_json(args.json, run)
    missed = any(t["verdict"] == "MISS" for s in run["sizes"] for t in s["targets"])
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
