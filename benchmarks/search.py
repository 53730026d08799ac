"""The search benchmark: indexing throughput, query latency and server memory for
Whoosh, against SQLite FTS5 and tantivy on the same corpus and queries.

Run from the repository root::

    .venv/bin/python -m benchmarks.search [--quick] [--sizes 2500,10000,100000]
        [--whoosh-max 10000] [--queries-per-kind 40] [--variants 600] [--json out.json]
        [--profile-dir DIR]

For each size a deterministic corpus is generated (see ``_search_corpus``). Up to
``--whoosh-max`` records, the corpus is loaded into a fresh service database and:

1. ``records-service reindex`` builds the index (the bulk path): records/s, wall and CPU;
2. ``records-service serve`` answers the queries over HTTP (with auth and the audit
   entry every search writes) while its memory is sampled;
3. the same queries run on the index in this process (engine only);
4. records are captured at a steady rate while a client polls search for each one:
   the time from the capture's response until it is found (the incremental path).

At every size SQLite FTS5 and tantivy index the same documents and answer the same
queries in this process, doing the same work (page of 20 with snippets, total,
three facets). Whoosh figures for sizes above ``--whoosh-max`` are extrapolated
from the measured sizes and labelled as such. ``--variants`` also times Whoosh
writer settings on a small corpus, and ``--profile-dir`` saves cProfile output
of bulk indexing and of the queries. Figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._harness import (
    MIB,
    HarnessError,
    LatencySummary,
    RssSampler,
    RunningServer,
    cli_command,
    create_token,
    format_table,
    machine_info,
    run_cli,
    running_server,
    server_env,
    write_json,
)
from benchmarks._search_baselines import Built, build_fts5, build_tantivy
from benchmarks._search_corpus import (
    QueryCase,
    make_contracts,
    make_documents,
    make_queries,
)
from benchmarks._search_db import load_contracts, load_documents, load_users
from records_service.db import make_engine
from records_service.indexing import IndexDocument, SearchQuery, Visibility, open_whoosh_index

KINDS = ("single term", "two-term AND", "phrase", "contract filter", "sort by date")
TARGET_P95_MS = {"single term": 50.0, "contract filter": 50.0, "phrase": 250.0}
SERVER_ENV = {"RECORDS_RETENTION__INTERVAL_HOURS": "0", "RECORDS_WORKERS__POLL_SECONDS": "0.5"}
EVERYONE = Visibility(see_sensitive=True, username="bench")


@dataclass
class SizeResult:
    """Everything measured at one corpus size."""

    size: int
    words_per_record: float
    corpus_seconds: float
    whoosh: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _latencies(run: Callable[[QueryCase], object], cases: Sequence[QueryCase]) -> dict[str, Any]:
    """Run every case once as a warm-up, then once timed; p50/p95 per kind."""
    for case in cases:
        run(case)
    samples: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        started = time.perf_counter()
        run(case)
        samples[case.kind].append(time.perf_counter() - started)
    return {kind: asdict(LatencySummary.of(samples[kind])) for kind in KINDS}


# --- Whoosh through the service -----------------------------------------------------------


def _load(data_dir: Path, docs: list[IndexDocument], contracts: list[Any]) -> float:
    run_cli(data_dir, "init", env=SERVER_ENV)
    engine = make_engine(f"sqlite:///{data_dir / 'records.db'}")
    started = time.perf_counter()
    users = load_users(engine)
    contract_ids = load_contracts(engine, contracts, owner=next(iter(users.values())))
    load_documents(engine, docs, contract_ids, users)
    engine.dispose()
    return time.perf_counter() - started


def _reindex(data_dir: Path, size: int) -> dict[str, Any]:
    cpu, started = _cpu(), time.perf_counter()
    # Not run_cli: a full rebuild runs for longer than its timeout.
    done = subprocess.run(
        [*cli_command(), "reindex", "--quiet"],
        env=server_env(data_dir, SERVER_ENV),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise HarnessError(f"reindex failed:\n{done.stderr}")
    output = done.stdout
    wall, spent = time.perf_counter() - started, _cpu() - cpu
    index_bytes = sum(f.stat().st_size for f in (data_dir / "index").rglob("*") if f.is_file())
    return {
        "wall_seconds": wall,
        "cpu_seconds": spent,
        "records_per_second": size / wall,
        "records_per_cpu_second": size / spent,
        "index_mib": index_bytes / MIB,
        "command_output": output.strip(),
    }


def _http_search(server: RunningServer, headers: dict[str, str]) -> Callable[[QueryCase], int]:
    client = httpx.Client(base_url=server.base_url, headers=headers, timeout=120)

    def run(case: QueryCase) -> int:
        params = {"q": case.text, "sort": case.sort, "page_size": "20"}
        if case.contract:
            params["contract"] = case.contract
        response = client.get("/api/search", params=params)
        response.raise_for_status()
        return int(response.json()["total"])

    return run


def _engine_search(index_dir: Path) -> tuple[Callable[[QueryCase], int], Callable[[], None]]:
    index = open_whoosh_index(index_dir)

    def run(case: QueryCase) -> int:
        query = SearchQuery(
            text=case.text,
            contract_ref=case.contract,
            sort=case.sort,  # type: ignore[arg-type]
        )
        return index.search(query, EVERYONE).total

    return run, index.close


POLL_SECONDS = 0.25


def _capture_visibility(
    server: RunningServer, headers: dict[str, str], count: int, interval: float
) -> dict[str, Any]:
    """Capture ``count`` records, one every ``interval`` s, while polling search for each.

    Two delays from the capture's response: until the record is found by a word
    of its title (metadata, indexed even before its text is extracted), and
    until it is found by a word of its text (after extraction).
    """
    client = httpx.Client(base_url=server.base_url, headers=headers, timeout=60)
    captured: list[float] = []
    lock = threading.Condition()

    def capture_all() -> None:
        for n in range(count):
            files = {
                "file": ("note.txt", f"Progress note textcheck{n:04d}.".encode(), "text/plain")
            }
            data = {
                "title": f"Note titlecheck{n:04d}",
                "record_type": "correspondence",
                "record_date": "2025-01-15",
            }
            client.post("/api/records", data=data, files=files).raise_for_status()
            with lock:
                captured.append(time.perf_counter())
                lock.notify()
            time.sleep(interval)

    writer = threading.Thread(target=capture_all, name="captures")
    writer.start()
    poller = httpx.Client(base_url=server.base_url, headers=headers, timeout=60)
    delays: dict[str, list[float]] = {"title": [], "text": []}
    for n in range(count):
        with lock:
            lock.wait_for(lambda n=n: len(captured) > n, timeout=120)  # type: ignore[misc]
            acknowledged = captured[n]
        for what in ("title", "text"):
            token = f"{what}check{n:04d}"
            while poller.get("/api/search", params={"q": token}).json()["total"] < 1:
                time.sleep(POLL_SECONDS)
            delays[what].append(time.perf_counter() - acknowledged)
    writer.join()
    return {what: asdict(LatencySummary.of(found)) for what, found in delays.items()}


def measure_whoosh(
    work: Path,
    docs: list[IndexDocument],
    contracts: list[Any],
    cases: list[QueryCase],
    captures: int,
) -> dict[str, Any]:
    """Load, reindex, serve and query one corpus size; see the module docstring."""
    data_dir = work / f"whoosh-{len(docs)}"
    data_dir.mkdir(parents=True)
    result: dict[str, Any] = {"load_seconds": _load(data_dir, docs, contracts)}
    print(f"  loaded the database in {result['load_seconds']:.0f} s; reindexing", flush=True)
    result["reindex"] = _reindex(data_dir, len(docs))
    print(f"  reindex: {result['reindex']['records_per_second']:.1f} records/s", flush=True)
    reader = create_token(data_dir, "bench", "reviewer")
    writer = create_token(data_dir, "benchcap", "staff")
    with running_server(data_dir, env=SERVER_ENV) as server:
        search = _http_search(server, server.bearer(reader))
        started = time.perf_counter()
        search(cases[0])
        result["first_query_ms"] = (time.perf_counter() - started) * 1000
        with RssSampler(server.pid) as rss:
            result["http"] = _latencies(search, cases)
        result["server_rss_mib"] = rss.peak_own / MIB
        engine_run, close = _engine_search(data_dir / "index")
        result["engine"] = _latencies(engine_run, cases)
        close()
        print("  queries done; captures while searching", flush=True)
        with RssSampler(server.pid) as rss:
            result["capture_to_search"] = _capture_visibility(
                server, server.bearer(writer), captures, interval=1.0
            )
        result["server_rss_mib_with_captures"] = rss.peak_own / MIB
    return result


def measure_captures_only(data_dir: Path, captures: int) -> dict[str, Any]:
    """Serve an already loaded and indexed data directory; time captures until searchable."""
    suffix = str(int(time.time()))
    writer = create_token(data_dir, f"benchcap{suffix}", "staff")
    with running_server(data_dir, env=SERVER_ENV) as server, RssSampler(server.pid) as rss:
        seen = _capture_visibility(server, server.bearer(writer), captures, interval=1.0)
    return {"capture_to_search": seen, "server_rss_mib_with_captures": rss.peak_own / MIB}


# --- baselines ----------------------------------------------------------------------------


def measure_baseline(
    name: str,
    build: Callable[[Path, list[IndexDocument]], Built],
    work: Path,
    docs: list[IndexDocument],
    cases: list[QueryCase],
) -> dict[str, Any]:
    """Build one baseline engine and time the queries on it."""
    built = build(work / f"{name}-{len(docs)}", docs)
    return {
        "index_seconds": built.seconds,
        "records_per_second": len(docs) / built.seconds,
        "records_per_cpu_second": len(docs) / max(built.cpu_seconds, 1e-9),
        "index_mib": built.size_bytes / MIB,
        "engine": _latencies(built.engine.run, cases),
    }


# --- what was tried: Whoosh writer settings, and profiles -----------------------------------


def measure_variants(
    work: Path, docs: list[IndexDocument], cases: list[QueryCase]
) -> list[dict[str, Any]]:
    """Bulk-index ``docs`` with several Whoosh writer settings; time indexing and queries."""
    from benchmarks._search_variants import VARIANTS, build_variant

    rows = []
    for name in VARIANTS:
        print(f"  variant {name}", flush=True)
        rows.append(build_variant(name, work / f"variant-{name}", docs, cases))
    return rows


def profile_queries(index_dir: Path, cases: list[QueryCase], out: Path) -> str:
    """cProfile of every benchmark query on the index in ``index_dir``, run in this process."""
    out.parent.mkdir(parents=True, exist_ok=True)
    run, close = _engine_search(index_dir)
    for case in cases:  # warm, as a server would be
        run(case)
    profiler = cProfile.Profile()
    for case in cases:
        profiler.runcall(run, case)
    profiler.dump_stats(str(out))
    close()
    return str(out)


def profile_whoosh(out: Path, docs: list[IndexDocument], cases: list[QueryCase]) -> dict[str, str]:
    """cProfile of a bulk rebuild of ``docs``, and of the queries on that index."""
    out.mkdir(parents=True, exist_ok=True)
    index = open_whoosh_index(Path(tempfile.mkdtemp(dir=out)))
    files = {}
    profiler = cProfile.Profile()
    profiler.runcall(index.rebuild, docs)
    files["indexing"] = str(out / "whoosh-indexing.prof")
    profiler.dump_stats(files["indexing"])
    profiler = cProfile.Profile()
    for case in cases:
        query = SearchQuery(text=case.text, contract_ref=case.contract, sort=case.sort)  # type: ignore[arg-type]
        profiler.runcall(index.search, query, EVERYONE)
    files["queries"] = str(out / "whoosh-queries.prof")
    profiler.dump_stats(files["queries"])
    index.close()
    return files


# --- extrapolation and output -----------------------------------------------------------------


def extrapolate(points: dict[int, float], size: int) -> float | None:
    """A straight line through the two largest measured sizes, evaluated at ``size``."""
    if len(points) < 2:
        return None
    (x1, y1), (x2, y2) = sorted(points.items())[-2:]
    slope = (y2 - y1) / (x2 - x1)
    return max(y2 + slope * (size - x2), y2)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def report(results: list[SizeResult]) -> str:
    """Plain-text tables of everything measured, with extrapolations labelled."""
    lines = []
    rows = []
    for r in results:
        w = r.whoosh.get("reindex", {})
        rows.append(
            [
                r.size,
                w.get("records_per_second"),
                w.get("records_per_cpu_second"),
                r.baselines["fts5"]["records_per_second"],
                r.baselines["tantivy"]["records_per_second"],
            ]
        )
    lines.append("Indexing (records/s; Whoosh through `records-service reindex`)")
    lines.append(format_table(["size", "whoosh", "whoosh/cpu-s", "fts5", "tantivy"], rows))
    for source in ("engine", "http"):
        lines.append(f"\nQuery p50 / p95 in ms ({source}; baselines always in-process)")
        rows = []
        for r in results:
            for kind in KINDS:
                whoosh = r.whoosh.get(source, {}).get(kind)
                fts = r.baselines["fts5"]["engine"][kind]
                tan = r.baselines["tantivy"]["engine"][kind]
                rows.append(
                    [
                        f"{r.size} {kind}",
                        whoosh and f"{whoosh['p50_ms']:.1f} / {whoosh['p95_ms']:.1f}",
                        f"{fts['p50_ms']:.1f} / {fts['p95_ms']:.1f}",
                        f"{tan['p50_ms']:.1f} / {tan['p95_ms']:.1f}",
                        _ratio(whoosh and whoosh["p95_ms"], fts["p95_ms"]),
                        _ratio(whoosh and whoosh["p95_ms"], tan["p95_ms"]),
                    ]
                )
        lines.append(
            format_table(
                [
                    "size, kind",
                    "whoosh",
                    "fts5",
                    "tantivy",
                    "whoosh/fts5 p95",
                    "whoosh/tantivy p95",
                ],
                rows,
            )
        )
    lines.append("\n" + _service_table(results))
    lines.append("\n" + _extrapolation_table(results))
    return "\n".join(lines)


def _service_table(results: list[SizeResult]) -> str:
    rows = []
    for r in results:
        if not r.whoosh:
            continue
        w, seen = r.whoosh, r.whoosh["capture_to_search"]
        seen = seen.get("text", seen)  # older runs kept one figure
        rows.append(
            [
                r.size,
                w["reindex"]["wall_seconds"],
                w["reindex"]["index_mib"],
                w["first_query_ms"],
                w["server_rss_mib"],
                w["server_rss_mib_with_captures"],
                f"{seen['p50_ms']:.0f} / {seen['p95_ms']:.0f}",
            ]
        )
    headers = [
        "size",
        "reindex s",
        "index MiB",
        "first query ms",
        "RSS MiB (queries)",
        "RSS MiB (captures)",
        "capture to found p50/p95 ms",
    ]
    return "Whoosh in the service\n" + format_table(headers, rows)


def _extrapolation_table(results: list[SizeResult]) -> str:
    measured = [r for r in results if r.whoosh]
    if not measured:
        return ""
    largest = max(r.size for r in results)
    rows = []
    for kind in KINDS:
        for source in ("engine", "http"):
            points = {r.size: r.whoosh[source][kind]["p95_ms"] for r in measured}
            rows.append([f"{kind} p95 ms ({source})", extrapolate(points, largest)])
    rss = {r.size: r.whoosh["server_rss_mib"] for r in measured}
    rows.append(["server RSS MiB", extrapolate(rss, largest)])
    header = (
        f"EXTRAPOLATED Whoosh at {largest} records (line through the two largest measured sizes)"
    )
    return header + "\n" + format_table(["figure", "value"], rows)


# --- main ----------------------------------------------------------------------------------


def run_size(args: argparse.Namespace, work: Path, size: int, contracts: list[Any]) -> SizeResult:
    """Generate the corpus of ``size`` records and measure every engine on it."""
    print(f"size {size}: generating the corpus", flush=True)
    started = time.perf_counter()
    docs = list(make_documents(size, contracts))
    words = sum(len(d.text.split()) for d in docs) / size
    result = SizeResult(size, words, time.perf_counter() - started)
    cases = make_queries(contracts, args.queries_per_kind)
    for name, build in (("fts5", build_fts5), ("tantivy", build_tantivy)):
        print(f"  {name}", flush=True)
        result.baselines[name] = measure_baseline(name, build, work, docs, cases)
    if size <= args.whoosh_max:
        result.whoosh = measure_whoosh(work, docs, contracts, cases, args.captures)
        if args.profile_dir:
            index_dir = work / f"whoosh-{size}" / "index"
            out = args.profile_dir / f"whoosh-queries-{size}.prof"
            result.whoosh["query_profile"] = profile_queries(index_dir, cases, out)
    return result


def main(argv: Iterable[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="2500,10000,100000", help="Corpus sizes, comma-separated."
    )
    parser.add_argument(
        "--whoosh-max",
        type=int,
        default=10000,
        help="Largest size Whoosh is measured at; above it, extrapolated.",
    )
    parser.add_argument("--contracts", type=int, default=3000, help="Contracts in the corpus.")
    parser.add_argument("--queries-per-kind", type=int, default=40, help="Queries of each kind.")
    parser.add_argument("--captures", type=int, default=40, help="Captures timed until searchable.")
    parser.add_argument(
        "--variants",
        type=int,
        default=0,
        help="Also time Whoosh writer settings on this many records (0: skip).",
    )
    parser.add_argument("--profile-dir", type=Path, default=None, help="Save cProfile output here.")
    parser.add_argument("--json", type=Path, default=None, help="Write all figures as JSON.")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="Keep indexes and databases here (default: a temporary directory, removed).",
    )
    parser.add_argument(
        "--captures-only",
        type=Path,
        default=None,
        metavar="DATA_DIR",
        help="Only time captures until searchable, on a data directory loaded by an earlier "
        "run (kept with --work-dir).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="A smoke run: 500 records, few queries, no variants."
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.quick:
        args.sizes, args.whoosh_max, args.queries_per_kind = "500", 500, 6
        args.captures, args.variants = 5, 0
    if args.captures_only:
        figures = measure_captures_only(args.captures_only, args.captures)
        print(figures)
        if args.json:
            write_json(args.json, {"machine": machine_info(), **figures})
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    contracts = make_contracts(args.contracts)
    info = machine_info()
    print(f"machine: {info}", flush=True)
    with contextlib.ExitStack() as stack:
        if args.work_dir:  # kept, for --captures-only or a look afterwards
            work = args.work_dir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="search-bench-")))
        results = []
        for size in sizes:
            results.append(run_size(args, work, size, contracts))
            if args.json:  # after each size, so a long run keeps what it measured
                write_json(args.json, {"machine": info, "sizes": [asdict(r) for r in results]})
        extra: dict[str, Any] = {}
        cases = make_queries(contracts, args.queries_per_kind)
        if args.variants:
            small = list(make_documents(args.variants, contracts))
            extra["variants"] = measure_variants(work, small, cases)
        if args.profile_dir:
            sample = list(make_documents(300, contracts))
            extra["profiles"] = profile_whoosh(args.profile_dir, sample, cases)
    print(report(results))
    if "variants" in extra:
        print("\nWhoosh writer settings (bulk index of the small corpus)")
        from benchmarks._search_variants import variants_table

        print(variants_table(extra["variants"]))
    if args.json:
        write_json(args.json, {"machine": info, "sizes": [asdict(r) for r in results], **extra})
    return 0


if __name__ == "__main__":
    sys.exit(main())
