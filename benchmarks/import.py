"""Benchmark of ``records-service import``: a generated legacy tree brought in while a
server runs, as an import is done in practice.

Phases, each on the same generated tree (:mod:`benchmarks._import_tree`: PDFs, Word
documents, text and e-mail, one file in ten a copy):

1. **baseline**: read and SHA-256 every file of the tree once (what any import must do
   at least);
2. **import**: ``records-service import`` as its own process against a running server
   (``records-service serve``, whose worker extracts and indexes in the background),
   with the import process's RSS sampled over time;
3. **searchable**: from the import's end until the server reports no extraction or
   index work pending, then a search for the batch's contract answering every record;
   the CPU time the background worker (and its extraction processes) used meanwhile
   is counted too, a figure that does not depend on the machine's other load;
4. **resume**: on a fresh data directory, the import killed (SIGKILL) once half the
   files have their outcome, run again, and the records and duplicate sightings counted.

Targets (issue 22, at 10,000 files and 1 GB on 2 cores): at least 100 files/s
captured; the batch searchable within 5 minutes of the import's end; the import's
memory flat; after the kill at 50%, exactly the unique files as records and the copies
as duplicate sightings.

    .venv/bin/python -m benchmarks.import --files 1000 --megabytes 100
    .venv/bin/python -m benchmarks.import --files 10000 --megabytes 1000 --json import.json
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from benchmarks._harness import (
    MIB,
    cli_command,
    create_token,
    format_table,
    machine_info,
    run_cli,
    running_server,
    server_env,
    source_revision,
    write_json,
)
from benchmarks._import_tree import CONTRACT_REF, MAPPING, Tree, make_tree
from benchmarks.capture import DRAIN_POLL_S, BenchmarkError, background_pending
from records_service.auth.service import get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings

TARGET_FILES_PER_S = 100.0
TARGET_SEARCHABLE_S = 300.0
# "Flat": the import's peak RSS over the last quarter of the files at most this much
# above its peak over the first quarter (start-up, before the first file, left out).
TARGET_RSS_GROWTH = 16 * MIB
RSS_INTERVAL_S = 0.5
KILL_TIMEOUT_S = 1800.0
# How long the searchable phase waits at most: past the target, to say how far off it is.
SEARCHABLE_TIMEOUT_S = 1800.0
IMPORT_USER = "importer"


@dataclass
class Results:
    """Every figure of one run."""

    files: int
    size: int
    duplicates: int
    baseline_s: float = 0.0
    import_s: float = 0.0
    loop_rate: float = 0.0  # files/s as the command reports it (its files only)
    searchable_s: float = 0.0
    searchable_cpu_s: float = 0.0  # the worker's and its children's CPU meanwhile
    backlog: str = ""
    at_target: str = ""  # extraction/index/sidecars still pending at the target's time
    rss: list[tuple[float, int, int]] = field(default_factory=list)  # (s, RSS, files done)
    resumed_records: int = 0
    resumed_duplicates: int = 0
    killed_at: int = 0
    machine: dict[str, str] = field(default_factory=dict)
    source: str = ""


def baseline(tree: Tree) -> float:
    """Seconds to read and hash every file of the tree, by path."""
    started = time.perf_counter()
    for path in sorted(p for p in tree.root.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(MIB):
                digest.update(chunk)
    return time.perf_counter() - started


def _import_command(tree: Tree, mapping: Path, report: Path | None = None) -> list[str]:
    args = [*cli_command(), "import", str(tree.root), "--map", str(mapping)]
    args += ["--user", IMPORT_USER, "--batch", "benchmark", "--quiet"]
    return args + (["--report", str(report)] if report else [])


def _sample_rss(
    process: subprocess.Popen[bytes], started: float, database: Path
) -> list[tuple[float, int, int]]:
    """The process's RSS and the files done, every ``RSS_INTERVAL_S`` until it exits."""
    samples: list[tuple[float, int, int]] = []
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            rss = int(watched.memory_info().rss)
        except psutil.Error:
            break
        samples.append((time.perf_counter() - started, rss, _outcomes(database)))
        time.sleep(RSS_INTERVAL_S)
    return samples


def run_import(
    data_dir: Path, tree: Tree, mapping: Path
) -> tuple[float, list[tuple[float, int, int]], float]:
    """Run the import to the end; its seconds, RSS samples and its own files/s."""
    started = time.perf_counter()
    database = data_dir / "records.db"
    child = subprocess.Popen(
        _import_command(tree, mapping, data_dir.parent / "report.csv"),
        env=server_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    samples: list[tuple[float, int, int]] = []
    sampler = threading.Thread(target=lambda: samples.extend(_sample_rss(child, started, database)))
    sampler.start()
    output, errors = child.communicate()
    sampler.join()
    if child.returncode != 0:
        raise BenchmarkError(f"the import failed ({child.returncode}): {errors.decode()[-2000:]}")
    rate = re.search(r"([0-9.]+) files/s", output.decode())
    return time.perf_counter() - started, samples, float(rate.group(1)) if rate else 0.0


def searchable(client: httpx.Client, expected: int) -> tuple[str, float, str]:
    """Wait for the background work; check a search finds every record of the batch.

    Returns the backlog at the start and at the target's time (as
    "extraction/index/sidecars"; empty if done by then) and the seconds until none is
    left; stops waiting after ``SEARCHABLE_TIMEOUT_S``."""
    started = time.perf_counter()
    pending = background_pending(client)
    backlog, at_target = _counts_text(pending), ""
    while any(pending):
        waited = time.perf_counter() - started
        if not at_target and waited >= TARGET_SEARCHABLE_S:
            at_target = _counts_text(pending)
        if waited > SEARCHABLE_TIMEOUT_S:
            raise BenchmarkError(f"background work {pending} still pending after the timeout")
        time.sleep(DRAIN_POLL_S)
        pending = background_pending(client)
    seconds = time.perf_counter() - started
    found = client.get("/api/search", params={"q": f"contract:{CONTRACT_REF}", "page_size": 1})
    total = int(found.json().get("total", -1)) if found.status_code == 200 else -1
    if total != expected:
        raise BenchmarkError(f"search found {total} records of the batch, not {expected}")
    return backlog, seconds, at_target


def _counts_text(pending: tuple[int, ...]) -> str:
    return "/".join(str(n) for n in pending)


def worker_cpu(server_pid: int) -> float:
    """CPU seconds used so far by the server's background worker and its children
    (extraction processes: those ended are counted in the worker's own figures)."""
    total = 0.0
    for process in psutil.Process(server_pid).children(recursive=True):
        try:
            if "worker" not in process.cmdline() or "records_service" not in process.cmdline():
                continue
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in process.children(recursive=True):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        except psutil.Error:
            continue
    return total


def _outcomes(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
            return int(db.execute("SELECT count(*) FROM import_files").fetchone()[0])
    except sqlite3.Error:
        return 0


def _counts(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database) as db:
        records = int(db.execute("SELECT count(*) FROM records").fetchone()[0])
        duplicates = int(
            db.execute("SELECT count(*) FROM import_files WHERE outcome = 'duplicate'").fetchone()[
                0
            ]
        )
    return records, duplicates


def kill_and_resume(data_dir: Path, tree: Tree, mapping: Path) -> tuple[int, int, int]:
    """Kill the import once half the files have an outcome, run it again to the end;
    the outcomes at the kill, the records and the duplicate sightings."""
    _prepare(data_dir)
    database = data_dir / "records.db"
    child = subprocess.Popen(
        _import_command(tree, mapping), env=server_env(data_dir), stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while _outcomes(database) < tree.files // 2 and child.poll() is None:
        if time.monotonic() > deadline:
            raise BenchmarkError("the import never reached half the files")
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed_at = _outcomes(database)
    run_cli(data_dir, *_import_command(tree, mapping)[len(cli_command()) :])
    return (killed_at, *_counts(database))


def _prepare(data_dir: Path) -> None:
    """Initialise ``data_dir`` with the import's user and the batch's contract, through
    the command line and the service's own functions (no server is needed)."""
    run_cli(data_dir, "init")
    create_token(data_dir, IMPORT_USER, "records_manager")
    services = Services.start(Settings(data_dir=data_dir))
    try:
        with session_scope(services.engine) as session:
            actor = get_user(session, IMPORT_USER)
            create_contract(session, data=CONTRACT, actor=actor, clock=services.clock)
    finally:
        services.close()


CONTRACT = ContractCreate.model_validate(
    {
        "reference": CONTRACT_REF,
        "title": "Victim services (legacy import)",
        "provider": "Safe Haven Trust",
        "funding_stream": "MoJ Victims Grant",
        "awarded_value_pence": 4_500_000,
        "start_date": "2015-04-01",
        "end_date": "2021-03-31",
        "status": "active",
    }
)


def run(files: int, megabytes: int, temp_parent: Path | None) -> Results:
    """Every phase on one generated tree."""
    with tempfile.TemporaryDirectory(prefix="import-bench-", dir=temp_parent) as temp:
        root = Path(temp)
        tree = make_tree(root / "Shared drive", files, megabytes * 1_000_000)
        mapping = root / "mapping.toml"
        mapping.write_text(MAPPING, encoding="utf-8")
        results = Results(tree.files, tree.size, tree.duplicates, machine=machine_info())
        results.source = source_revision()
        results.baseline_s = baseline(tree)
        _served_phases(root / "served" / "data", tree, mapping, results)
        killed = kill_and_resume(root / "resumed" / "data", tree, mapping)
        results.killed_at, results.resumed_records, results.resumed_duplicates = killed
        results.machine["load_1m_at_end"] = machine_info().get("load_1m_at_start", "")
        return results


def _served_phases(data_dir: Path, tree: Tree, mapping: Path, results: Results) -> None:
    data_dir.mkdir(parents=True)
    _prepare(data_dir)
    token = create_token(data_dir, "reader", "reviewer")
    with (
        running_server(data_dir) as server,
        httpx.Client(base_url=server.base_url, headers=server.bearer(token), timeout=120) as client,
    ):
        results.import_s, results.rss, results.loop_rate = run_import(data_dir, tree, mapping)
        expected = tree.files - tree.duplicates
        cpu_before = worker_cpu(server.pid)
        results.machine["load_1m_at_import_end"] = _load()
        print(f"imported in {results.import_s:.1f} s; waiting until searchable", file=sys.stderr)
        results.backlog, results.searchable_s, results.at_target = searchable(client, expected)
        results.searchable_cpu_s = worker_cpu(server.pid) - cpu_before
        results.machine["load_1m_when_searchable"] = _load()


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


# --- report ---------------------------------------------------------------------------


def _quarter_peaks(samples: list[tuple[float, int, int]], files: int) -> tuple[int, int]:
    """Peak RSS over the first quarter of the files and over the last quarter."""
    working = [(rss, done) for _, rss, done in samples if done > 0]
    if not working:
        return 0, 0
    first = [rss for rss, done in working if done <= files / 4] or [working[0][0]]
    last = [rss for rss, done in working if done >= files * 3 / 4] or [working[-1][0]]
    return max(first), max(last)


def verdicts(results: Results) -> list[tuple[str, str, str]]:
    """(target, figure, verdict) for each target."""
    rate = results.files / results.import_s
    first, last = _quarter_peaks(results.rss, results.files)
    unique = results.files - results.duplicates
    resumed = (results.resumed_records, results.resumed_duplicates) == (unique, results.duplicates)
    return [
        (
            f"at least {TARGET_FILES_PER_S:.0f} files/s",
            f"{rate:.1f} files/s",
            _met(rate >= TARGET_FILES_PER_S),
        ),
        (
            "searchable within 5 min of the end",
            f"{results.searchable_s:.1f} s",
            _met(results.searchable_s <= TARGET_SEARCHABLE_S),
        ),
        (
            "memory flat (last quarter's peak - first's)",
            f"{(last - first) / MIB:+.1f} MiB",
            _met(last - first <= TARGET_RSS_GROWTH),
        ),
        (
            f"resumed: {unique} records, {results.duplicates} sightings",
            f"{results.resumed_records} records, {results.resumed_duplicates} sightings "
            f"(killed at {results.killed_at})",
            _met(resumed),
        ),
    ]


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: Results) -> str:
    mb = results.size / 1e6
    rows = [
        (
            "read + SHA-256 (baseline)",
            f"{results.baseline_s:.2f} s",
            f"{results.files / results.baseline_s:.0f}",
            f"{mb / results.baseline_s:.1f}",
        ),
        (
            "records-service import",
            f"{results.import_s:.2f} s",
            f"{results.files / results.import_s:.1f}",
            f"{mb / results.import_s:.2f}",
        ),
    ]
    step = max(len(results.rss) // 10, 1)
    timeline = [
        (f"{t:.0f} s", done, f"{rss / MIB:.0f} MiB") for t, rss, done in results.rss[::step]
    ]
    return "\n\n".join(
        [
            f"{results.files} files ({results.duplicates} copies), {mb:.1f} MB; "
            f"source {results.source}",
            "machine: " + ", ".join(f"{k}: {v}" for k, v in results.machine.items()),
            format_table(("phase", "time", "files/s", "MB/s"), rows),
            f"import / baseline: {results.import_s / results.baseline_s:.1f}x; the command's "
            f"own rate (files only, start-up left out): {results.loop_rate:.1f} files/s; "
            f"searchable {results.searchable_s:.1f} s after the end (backlog "
            f"extraction/index/sidecars {results.backlog}"
            + (f", at 5 min still {results.at_target}" if results.at_target else "")
            + f"; the worker's CPU meanwhile {results.searchable_cpu_s:.1f} s)",
            format_table(("import RSS at", "files done", "RSS"), timeline),
            format_table(("target", "figure", "verdict"), verdicts(results)),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=1000, help="files in the tree (default 1000)")
    parser.add_argument("--megabytes", type=int, default=100, help="the tree's size (default 100)")
    parser.add_argument("--quick", action="store_true", help="100 files, 10 MB")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--temp", type=Path, default=None, help="where the tree and data go")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    files, megabytes = (100, 10) if args.quick else (args.files, args.megabytes)
    results = run(files, megabytes, args.temp)
    print(report(results))
    if args.json:
        write_json(args.json, {**asdict(results), "verdicts": verdicts(results)})
    missed = any(verdict == "MISSED" for _, _, verdict in verdicts(results))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
