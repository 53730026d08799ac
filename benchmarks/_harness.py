"""What every benchmark shares: a real server process, its users, timing statistics,
memory and CPU sampling of the server's process tree, machine facts, and output.

Each benchmark owns its workload and its targets; this module owns how a server is
started and stopped and how numbers are summarised and shown. The server always runs
as a separate process (``records-service serve``) on a free loopback port with its
own temporary data directory, exactly as deployed on the embedded default.

Run as ``python -m benchmarks._harness PROFILE_OUT ARGS...`` this module is the
profiled server launcher behind the benchmarks' ``--profile`` option: it runs the
``records-service`` command line with ``ARGS`` under cProfile, profiling every
thread (the plain ``python -m cProfile`` only sees the main thread, while the API's
sync routes and the background worker run in other threads), and writes the merged
statistics to ``PROFILE_OUT`` when the server stops.
"""

from __future__ import annotations

import cProfile
import io
import json
import math
import os
import platform
import pstats
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import psutil  # type: ignore[import-untyped]

from records_service.runtime import launch

REPO_ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 120.0
MIB = 1024 * 1024


class HarnessError(RuntimeError):
    """The server or its command line failed; the message carries the reason."""


# --- the server process -------------------------------------------------------------


def cli_command() -> list[str]:
    """The ``records-service`` command of the running interpreter's environment."""
    script = Path(sys.executable).with_name("records-service")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "records_service"]


def server_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``RECORDS_DATA_DIR`` and ``extra`` applied."""
    env = dict(os.environ)
    env["RECORDS_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def run_cli(data_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``records-service ARGS`` against ``data_dir``; return stdout or raise."""
    result = subprocess.run(
        [*cli_command(), *args],
        env=server_env(data_dir, env),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(
            f"records-service {' '.join(args)} exited with {result.returncode}:\n{result.stderr}"
        )
    return result.stdout


def create_token(data_dir: Path, username: str, *roles: str) -> str:
    """Create a user with ``roles`` through the command line and return its API token."""
    role_args = [arg for role in roles for arg in ("--role", role)]
    words = run_cli(data_dir, "users", "add", username, *role_args).split()
    if not words:
        raise HarnessError(f"records-service users add {username} printed no token")
    return words[-1]


@dataclass(frozen=True)
class RunningServer:
    """A server process started by :func:`running_server`."""

    base_url: str
    pid: int
    data_dir: Path
    log_path: Path

    def bearer(self, token: str) -> dict[str, str]:
        """The ``Authorization`` header for ``token``."""
        return {"Authorization": f"Bearer {token}"}


# What --profile runs: everything in the one process the profiler can see.
ONE_PROCESS = {"RECORDS_SERVER_PROCESSES": "1", "RECORDS_WORKERS__MODE": "thread"}


@contextmanager
def running_server(
    data_dir: Path,
    *,
    profile_out: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Initialise ``data_dir``, start ``records-service serve`` on a free port, wait for
    ``/health``, and stop the server (SIGINT, then kill) when the block ends.

    The server is started and stopped by :mod:`records_service.runtime.launch`, as in the test
    suite. With ``profile_out`` the server runs under the all-threads profiler of this
    module, in one process (one server process, background work in a thread of it),
    since the profiler sees only its own process. The server's output goes to
    ``server.log`` beside the data directory's contents.
    """
    run_cli(data_dir, "init", env=env)
    command: tuple[str, ...] = launch.MODULE_COMMAND
    if profile_out is not None:
        command = (sys.executable, "-m", "benchmarks._harness", str(profile_out))
        env = {**(env or {}), **ONE_PROCESS}
    log_path = data_dir / "server.log"
    with launch.running_server(
        data_dir,
        ["--log-level", "warning"],
        env=env,
        command=command,
        cwd=REPO_ROOT,
        log_path=log_path,
        stop_signal=signal.SIGINT,  # which uvicorn and the profiler both honour
        stop_seconds=STOP_TIMEOUT_S,
    ) as served:
        yield RunningServer(served.base_url, served.pid, data_dir, log_path)


# --- statistics ---------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of ``values``, interpolating between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    """Latencies of one phase, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        """Summarise latencies given in seconds."""
        return cls(
            count=len(seconds),
            p50_ms=percentile(seconds, 50) * 1000,
            p95_ms=percentile(seconds, 95) * 1000,
            max_ms=max(seconds) * 1000,
            mean_ms=sum(seconds) / len(seconds) * 1000,
        )


# --- the server's process tree: memory and CPU ----------------------------------------


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


BACKGROUND_MARKERS = (("records_service", "worker"), ("records_service.extraction._worker",))


def is_background(proc: psutil.Process) -> bool:
    """Whether ``proc`` does background work: ``records-service worker`` (which ``serve``
    starts) or an extraction worker. The rest of a server's tree serves requests."""
    try:
        args = proc.cmdline()
    except psutil.Error:
        return False
    return any(all(marker in args for marker in markers) for markers in BACKGROUND_MARKERS)


def _roles(pid: int) -> list[tuple[psutil.Process, bool]]:
    """Every process of ``pid``'s tree, with whether it (or an ancestor) is background."""
    background: set[int] = set()
    roles: list[tuple[psutil.Process, bool]] = []
    for proc in _tree(pid):  # parents come before their children
        try:
            parent = proc.ppid()
        except psutil.Error:
            continue
        flag = parent in background or is_background(proc)
        if flag:
            background.add(proc.pid)
        roles.append((proc, flag))
    return roles


def connection_split(pid: int, client_ports: Sequence[int]) -> list[int]:
    """How the clients' connections (by their local ports) are shared out among the
    processes serving requests in ``pid``'s tree: one count per process holding any,
    largest first.

    Each keep-alive connection stays with the server process that accepted it, so
    this split bounds what several clients can get from a few single-threaded
    (GIL-bound) processes.
    """
    wanted = set(client_ports)
    counts: list[int] = []
    for proc, background in _roles(pid):
        if background:
            continue
        try:
            held = sum(
                1 for c in proc.net_connections(kind="tcp") if c.raddr and c.raddr.port in wanted
            )
        except psutil.Error:
            continue
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


def tree_rss(pid: int) -> tuple[int, int]:
    """RSS in bytes of the processes serving requests in ``pid``'s tree, and of the whole tree.

    Forked children share pages with their parent, so the sums over-count shared
    memory; they are upper bounds.
    """
    serving = total = 0
    for proc, background in _roles(pid):
        try:
            rss = int(proc.memory_info().rss)
        except psutil.Error:
            continue  # a short-lived child ended between listing and reading
        total += rss
        if not background:
            serving += rss
    return serving, total


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds (user + system) of a server's tree so far: the processes serving
    requests (``own``) and those doing background work (``children``: the worker
    process and extraction workers)."""

    own: float
    children: float

    @classmethod
    def of_tree(cls, pid: int) -> CpuTimes:
        """Times of ``pid`` and every descendant, living or already reaped."""
        own = children = 0.0
        for proc, background in _roles(pid):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            spent = times.user + times.system
            reaped = times.children_user + times.children_system
            if background:
                children += spent + reaped
            else:
                own += spent
                # What a serving process reaped were extraction workers (its own, in
                # the thread mode), so that CPU is background work too.
                children += reaped
        return cls(own, children)

    @classmethod
    def of_self(cls) -> CpuTimes:
        """Times of this (the benchmark client's) process."""
        times = psutil.Process().cpu_times()
        return cls(times.user + times.system, 0.0)

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.own - other.own, self.children - other.children)


class RssSampler:
    """Samples the RSS of a server's tree in a background thread: the processes serving
    requests (``own``) and the whole tree; keeps the first sample (taken on entry) and
    the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self._pid = pid
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.start_own = self.start_tree = 0
        self.peak_own = self.peak_tree = 0
        self.samples = 0

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        try:
            own, total = tree_rss(self._pid)
        except psutil.Error:
            return
        if not self.samples:
            self.start_own, self.start_tree = own, total
        self.peak_own = max(self.peak_own, own)
        self.peak_tree = max(self.peak_tree, total)
        self.samples += 1


# --- machine facts and output ---------------------------------------------------------


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": str(len(os.sched_getaffinity(0))),
        "cpu_model": model,
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        # Other work on the machine skews every figure; the load says how much there was.
        "load_1m_at_start": f"{os.getloadavg()[0]:.2f}",
    }


def source_revision() -> str:
    """The checked-out commit, with ``+changes`` when tracked files differ from it."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False
        )

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("diff-index", "--quiet", "HEAD", "--").returncode != 0
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+changes" if changed else "")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [row[0].ljust(widths[0])]
        parts += [value.rjust(width) for value, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(parts)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


# Where idle threads park: the event loop's poll, pool threads waiting for work, the
# background worker's sleep. Their time is not work, so the summary sets it aside.
_IDLE_FUNCTIONS = (
    "<method 'acquire' of '_thread.lock' objects>",
    "<method 'poll' of 'select.epoll' objects>",
    "<method 'poll' of 'select.poll' objects>",
    "<built-in method time.sleep>",
)


def profile_summary(path: Path, limit: int = 25) -> str:
    """The top of a profile: functions by own time with idle waits set aside, then
    project functions by cumulative time."""
    stats = pstats.Stats(str(path))
    idle = 0.0
    rows: list[tuple[float, float, int, str]] = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if name in _IDLE_FUNCTIONS:
            idle += own
            continue
        where = name if file == "~" else f"{Path(file).name}:{line}({name})"
        rows.append((own, cumulative, calls, where))
    rows.sort(reverse=True)
    table = format_table(
        ["function", "calls", "own s", "cumulative s"],
        [(where, calls, own, cum) for own, cum, calls, where in rows[:limit]],
    )
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("cumulative").print_stats(
        r"records_service", limit
    )
    return (
        f"by own time ({idle:.1f} s of idle waiting in parked threads left out):\n{table}"
        f"\n\nproject functions by cumulative time:\n{out.getvalue()}"
    )


# --- the profiled server launcher -----------------------------------------------------


def _profiled_cli(out: Path, cli_args: list[str]) -> None:
    """Run the command line with a cProfile profiler in every thread; merge on exit."""
    import click

    from records_service.cli import main

    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_thread_profiler(_frame: FrameType, _event: str, _arg: object) -> None:
        profiler = cProfile.Profile()
        with lock:
            profilers.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread's life

    threading.setprofile(start_thread_profiler)
    main_profiler = cProfile.Profile()
    profilers.append(main_profiler)
    main_profiler.enable()
    try:
        main.main(args=cli_args, prog_name="records-service", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        pass  # SIGINT is how the harness stops the server
    finally:
        main_profiler.disable()
        threading.setprofile(None)
        _merge_profiles(out, profilers)


def _merge_profiles(out: Path, profilers: list[cProfile.Profile]) -> None:
    merged: pstats.Stats | None = None
    with_calls = 0
    for profiler in profilers:
        try:
            if merged is None:
                merged = pstats.Stats(profiler)
            else:
                merged.add(profiler)
        except TypeError:
            continue  # a thread that recorded nothing
        with_calls += 1
    if merged is not None:
        merged.dump_stats(str(out))
    print(f"profile of {with_calls} threads written to {out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m benchmarks._harness PROFILE_OUT RECORDS_SERVICE_ARGS...")
    _profiled_cli(Path(sys.argv[1]), sys.argv[2:])
