"""The search benchmark's service side: one engine measured as the service runs it.

On a data directory loaded with the corpus (``_search_db``) this module runs
``records-service reindex`` (the bulk path, reading the database included),
then ``records-service serve`` with its defaults (server processes and the
background worker): HTTP search latency from one client with a bearer token
(every search also writes its ``search.query`` audit entry), memory of the
whole process tree while one and then several clients search, and how long a
record captured through the API takes to be found by search while captures
continue. Last, the same queries run on the same index in this process
through the engine alone. The engine is chosen with ``RECORDS_INDEX__ENGINE``;
each engine gets its own index directory, so both can share one database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks._harness import (
    MIB,
    HarnessError,
    LatencySummary,
    RssSampler,
    RunningServer,
    cli_command,
    run_cli,
    running_server,
    server_env,
)
from benchmarks._search_corpus import Contract, QueryCase
from benchmarks._search_db import load_contracts, load_documents, load_users
from records_service.db import make_engine
from records_service.indexing import (
    IndexDocument,
    SearchIndex,
    SearchQuery,
    Visibility,
    open_tantivy_index,
    open_whoosh_index,
)

KINDS = ("single term", "two-term AND", "phrase", "contract filter", "sort by date")
# Retention's scheduled run is not part of search; everything else is the default.
BASE_ENV = {"RECORDS_RETENTION__INTERVAL_HOURS": "0"}
EVERYONE = Visibility(see_sensitive=True, username="bench")
POLL_SECONDS = 0.05
CONCURRENT_CLIENTS = 4
CAPTURE_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Deployment:
    """One engine on a loaded data directory: its settings and its index directory."""

    engine: str
    data_dir: Path

    @property
    def index_root(self) -> Path:
        """What ``RECORDS_INDEX__PATH`` points at for this engine."""
        return self.data_dir / f"index-{self.engine}"

    @property
    def env(self) -> dict[str, str]:
        """The service's environment for this engine."""
        return {
            **BASE_ENV,
            "RECORDS_INDEX__ENGINE": self.engine,
            "RECORDS_INDEX__PATH": str(self.index_root),
        }

    def open_engine(self) -> SearchIndex:
        """The engine's index as the service opens it (``search/engine.py``), in this process."""
        if self.engine == "whoosh":
            return open_whoosh_index(self.index_root)
        return open_tantivy_index(self.index_root / "tantivy")


def latencies(run: Callable[[QueryCase], object], cases: Sequence[QueryCase]) -> dict[str, Any]:
    """Run every case once as a warm-up, then once timed; p50/p95 per kind."""
    for case in cases:
        run(case)
    samples: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        started = time.perf_counter()
        run(case)
        samples[case.kind].append(time.perf_counter() - started)
    return {kind: asdict(LatencySummary.of(samples[kind])) for kind in KINDS if samples[kind]}


# --- the database and the bulk index ----------------------------------------------------


def load_corpus(data_dir: Path, docs: list[IndexDocument], contracts: list[Contract]) -> float:
    """Initialise ``data_dir`` and insert the corpus as captured records; the seconds it took."""
    data_dir.mkdir(parents=True, exist_ok=True)
    run_cli(data_dir, "init", env=BASE_ENV)
    engine = make_engine(f"sqlite:///{data_dir / 'records.db'}")
    started = time.perf_counter()
    users = load_users(engine)
    contract_ids = load_contracts(engine, contracts, owner=next(iter(users.values())))
    load_documents(engine, docs, contract_ids, users)
    engine.dispose()
    return time.perf_counter() - started


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


REINDEX_OUTPUT = re.compile(r"indexed (\d+) versions in ([\d.]+) s")


def reindex(deployment: Deployment, profile_out: Path | None = None) -> dict[str, Any]:
    """``records-service reindex``: wall and CPU time of the whole command, and records/s."""
    command = [*cli_command(), "reindex", "--quiet"]
    if profile_out is not None:  # the main thread; tantivy's own threads are native code
        profile_out.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "cProfile", "-o", str(profile_out)]
        command += ["-m", "records_service", "reindex", "--quiet"]
    cpu, started = _children_cpu(), time.perf_counter()
    # Not run_cli: a full rebuild can run for longer than its timeout.
    done = subprocess.run(
        command,
        env=server_env(deployment.data_dir, deployment.env),
        capture_output=True,
        text=True,
        check=False,
    )
    wall, spent = time.perf_counter() - started, _children_cpu() - cpu
    found = REINDEX_OUTPUT.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise HarnessError(f"reindex failed:\n{done.stdout}\n{done.stderr}")
    count = int(found.group(1))
    return {
        "versions": count,
        "wall_seconds": wall,
        "rebuild_seconds": float(found.group(2)),
        "cpu_seconds": spent,
        "records_per_second": count / wall,
        "records_per_cpu_second": count / spent,
        "index_mib": directory_bytes(deployment.index_root) / MIB,
    }


def directory_bytes(root: Path) -> int:
    """The size of every file under ``root``."""
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


# --- the server -------------------------------------------------------------------------


def http_search(base_url: str, headers: dict[str, str]) -> Callable[[QueryCase], int]:
    """A client that runs a case as ``GET /api/search`` does; returns the total."""
    client = httpx.Client(base_url=base_url, headers=headers, timeout=300)

    def run(case: QueryCase) -> int:
        params = {"q": case.text, "sort": case.sort, "page_size": "20"}
        if case.contract:
            params["contract"] = case.contract
        response = client.get("/api/search", params=params)
        response.raise_for_status()
        return int(response.json()["total"])

    return run


def tree_pss(pid: int) -> int:
    """Proportional set size of ``pid``'s tree: shared pages (the index's mapped files,
    libraries) split between the processes that map them, so the sum does not over-count."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += int(proc.memory_full_info().pss)
        except psutil.Error:
            continue
    return total


def concurrent_queries(
    server: RunningServer, headers: dict[str, str], cases: Sequence[QueryCase]
) -> dict[str, Any]:
    """Every case once, shared out among several clients at once (so that every server
    process answers and holds its searcher); the rate and the tree's memory meanwhile."""
    errors: list[BaseException] = []

    def client(share: Sequence[QueryCase]) -> None:
        run = http_search(server.base_url, headers)
        try:
            for case in share:
                run(case)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [
        threading.Thread(target=client, args=(cases[n::CONCURRENT_CLIENTS],))
        for n in range(CONCURRENT_CLIENTS)
    ]
    started = time.perf_counter()
    with RssSampler(server.pid) as rss:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pss = tree_pss(server.pid)
    if errors:
        raise HarnessError(f"a search client failed: {errors[0]!r}")
    wall = time.perf_counter() - started
    return {
        "clients": CONCURRENT_CLIENTS,
        "queries_per_second": len(cases) / wall,
        "rss_mib_serving": rss.peak_own / MIB,
        "rss_mib_tree": rss.peak_tree / MIB,
        "pss_mib_tree_at_end": pss / MIB,
    }


def _captures(
    client: httpx.Client,
    words: Callable[[str, int], str],
    count: int,
    captured: list[float],
    lock: threading.Condition,
) -> None:
    for n in range(count):
        files = {"file": ("note.txt", f"Progress note {words('text', n)}.".encode(), "text/plain")}
        data = {
            "title": f"Note {words('title', n)}",
            "record_type": "correspondence",
            "record_date": "2025-01-15",
        }
        client.post("/api/records", data=data, files=files).raise_for_status()
        with lock:
            captured.append(time.perf_counter())
            lock.notify()
        time.sleep(CAPTURE_INTERVAL_S)


def capture_to_search(
    server: RunningServer,
    reader: dict[str, str],
    writer: dict[str, str],
    count: int,
    marker: str,
) -> dict[str, Any]:
    """Capture ``count`` records, one a second, while another client polls search for each.

    Two delays from the capture's response: until the record is found by a word
    of its title (metadata, indexed before its text is extracted), and until it is
    found by a word of its text (after extraction). Polls every 50 ms. The words
    carry ``marker``, so that records captured by an earlier phase on the same
    database are not found instead.
    """

    def words(what: str, n: int) -> str:
        return f"{what}check{marker}{n:04d}"

    captured: list[float] = []
    lock = threading.Condition()
    client = httpx.Client(base_url=server.base_url, headers=writer, timeout=60)
    thread = threading.Thread(target=_captures, args=(client, words, count, captured, lock))
    thread.start()
    poller = httpx.Client(base_url=server.base_url, headers=reader, timeout=60)
    delays: dict[str, list[float]] = {"title": [], "text": []}
    for n in range(count):
        with lock:
            if not lock.wait_for(lambda n=n: len(captured) > n, timeout=120):  # type: ignore[misc]
                raise HarnessError("a capture did not answer within 120 s")
            acknowledged = captured[n]
        for what in ("title", "text"):
            token = words(what, n)
            deadline = acknowledged + 120
            while poller.get("/api/search", params={"q": token}).json()["total"] < 1:
                if time.perf_counter() > deadline:
                    raise HarnessError(f"capture {n} was not found by its {what} in 120 s")
                time.sleep(POLL_SECONDS)
            delays[what].append(time.perf_counter() - acknowledged)
    thread.join()
    return {what: asdict(LatencySummary.of(found)) for what, found in delays.items()}


def serve_and_query(
    deployment: Deployment,
    tokens: dict[str, str],
    cases: Sequence[QueryCase],
    captures: int,
) -> dict[str, Any]:
    """Serve the loaded, indexed data directory and measure it over HTTP (module docstring)."""
    result: dict[str, Any] = {}
    with running_server(deployment.data_dir, env=deployment.env) as server:
        reader = server.bearer(tokens["reader"])
        search = http_search(server.base_url, reader)
        started = time.perf_counter()
        search(cases[0])
        result["first_query_ms"] = (time.perf_counter() - started) * 1000
        with RssSampler(server.pid) as rss:
            result["http"] = latencies(search, cases)
        result["rss_mib_one_client"] = {"serving": rss.peak_own / MIB, "tree": rss.peak_tree / MIB}
        result["concurrent"] = concurrent_queries(server, reader, cases)
        if captures:
            with RssSampler(server.pid) as rss:
                writer = server.bearer(tokens["writer"])
                found = capture_to_search(server, reader, writer, captures, deployment.engine)
            result["capture_to_search"] = found
            result["rss_mib_captures"] = {
                "serving": rss.peak_own / MIB,
                "tree": rss.peak_tree / MIB,
            }
    return result


def engine_in_process(deployment: Deployment, cases: Sequence[QueryCase]) -> dict[str, Any]:
    """The same queries on the same index, through the engine alone in this process."""
    index = deployment.open_engine()

    def run(case: QueryCase) -> int:
        query = SearchQuery(text=case.text, contract_ref=case.contract, sort=case.sort)  # type: ignore[arg-type]
        return index.search(query, EVERYONE).total

    try:
        return latencies(run, cases)
    finally:
        index.close()


def measure_deployment(
    deployment: Deployment,
    tokens: dict[str, str],
    cases: Sequence[QueryCase],
    captures: int,
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    """Reindex, serve and query one engine on a loaded data directory."""
    profile = profile_dir / f"{deployment.engine}-reindex.prof" if profile_dir else None
    name = deployment.engine
    print(f"  {name}: records-service reindex", flush=True)
    result: dict[str, Any] = {"reindex": reindex(deployment, profile)}
    rate = result["reindex"]["records_per_second"]
    print(f"  {name}: {rate:,.1f} records/s; serving", flush=True)
    result.update(serve_and_query(deployment, tokens, cases, captures))
    print(f"  {name}: engine in process", flush=True)
    result["engine"] = engine_in_process(deployment, cases)
    return result
