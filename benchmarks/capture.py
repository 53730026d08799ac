"""The capture benchmark: records per second and latency of ``POST /api/records`` on the
embedded default (SQLite and local blobs), against a write-hash-fsync baseline.

Run from the repository root::

    .venv/bin/python -m benchmarks.capture [--quick] [--json out.json] [--profile out.prof]

A real server process is started on a temporary data directory, with its background
text extraction on (it is part of capture's real cost). The phases, in order: a
~100 KB PDF captured sequentially (latency), a 10 MB file captured sequentially
(latency, bandwidth and memory), the 100 KB PDF from several concurrent clients
(throughput). After each phase the extraction backlog is drained before the next
starts. The baseline writes the same bytes to files in the same filesystem: per file
open, write, SHA-256, fsync and close. The targets come from the capture issue; the
figures measured on the reference machine are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

from benchmarks._harness import (
    MIB,
    CpuTimes,
    LatencySummary,
    RssSampler,
    RunningServer,
    create_token,
    format_table,
    machine_info,
    profile_summary,
    running_server,
    write_json,
)

SEED = 20240401
SMALL_SIZE = 100 * 1024
LARGE_SIZE = 10 * MIB
CHUNK_SIZE = MIB
CONTRACT_REF = "OPCC-BENCH-001"
DRAIN_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 120.0

# Targets from the capture issue.
TARGET_SMALL_P95_MS = 30.0
TARGET_CONCURRENT_PER_S = 60.0
TARGET_LARGE_RATIO = 3.0
# Memory is "flat" when the 10 MB phase's peak RSS exceeds the 100 KB phase's by less
# than one file: holding a single upload in memory would already cross this line.
TARGET_RSS_GROWTH = LARGE_SIZE


class BenchmarkError(RuntimeError):
    """A request failed or the server fell over; the benchmark cannot report figures."""


# --- payloads -----------------------------------------------------------------------

_VOCABULARY = (
    "contract provider helpline referral quarter victim service grant outcome review "
    "commissioner performance advocate funding assessment evidence safeguarding "
    "partnership monitoring report budget tender decision specification caseworker"
)
_WORDS = _VOCABULARY.split()
PDF_PAGES = 4
PDF_LINES_PER_PAGE = 40
PDF_IMAGE_HEIGHT = 64


def make_pdf(target_size: int, seed: int = SEED) -> bytes:
    """A valid PDF of about ``target_size`` bytes: pages of compressed text and one
    greyscale image of seeded noise (like a scanned logo), so that size comes from
    incompressible bytes while extraction sees a few realistic pages of text."""
    rng = random.Random(seed)
    pages = [_page_content(rng, with_image=index == 0) for index in range(PDF_PAGES)]
    noise = random.Random(seed + 1)
    without_image = len(_assemble_pdf(pages, b"", 0))
    width = max(1, (target_size - without_image) // PDF_IMAGE_HEIGHT)
    image = noise.randbytes(width * PDF_IMAGE_HEIGHT)
    data = _assemble_pdf(pages, image, width)
    reader = PdfReader(io.BytesIO(data), strict=True)
    if len(reader.pages) != PDF_PAGES or not reader.pages[0].extract_text().strip():
        raise BenchmarkError("the generated PDF does not read back")
    return data


def _page_content(rng: random.Random, *, with_image: bool) -> bytes:
    lines = [" ".join(rng.choices(_WORDS, k=rng.randint(9, 13))) for _ in range(PDF_LINES_PER_PAGE)]
    shown = " ".join(f"({line.capitalize()}.) Tj T*" for line in lines)
    text = f"BT /F1 10 Tf 14 TL 56 790 Td {shown} ET"
    if with_image:
        text = f"q 160 0 0 120 380 40 cm /Im1 Do Q {text}"
    return zlib.compress(text.encode("ascii"), 9)


def _stream(header: str, body: bytes) -> bytes:
    return f"<< {header} /Length {len(body)} >>\nstream\n".encode() + body + b"\nendstream"


def _assemble_pdf(contents: Sequence[bytes], image: bytes, width: int) -> bytes:
    first_page = 5
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(contents)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(contents)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        _stream(
            f"/Type /XObject /Subtype /Image /Width {width} /Height {PDF_IMAGE_HEIGHT} "
            "/ColorSpace /DeviceGray /BitsPerComponent 8",
            image,
        ),
    ]
    for index, content in enumerate(contents):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << "
            f"/Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> "
            f"/Contents {first_page + 2 * index + 1} 0 R >>".encode()
        )
        objects.append(_stream("/Filter /FlateDecode", content))
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


@dataclass(frozen=True)
class Upload:
    """One payload and how it is sent."""

    label: str
    filename: str
    content: bytes
    media_type: str


def make_uploads() -> tuple[Upload, Upload]:
    """The ~100 KB PDF and the 10 MB file of seeded pseudo-random bytes."""
    small = Upload("100 KB PDF", "assessment.pdf", make_pdf(SMALL_SIZE), "application/pdf")
    large = Upload(
        "10 MB binary",
        "survey-export.bin",
        random.Random(SEED + 2).randbytes(LARGE_SIZE),
        "application/octet-stream",
    )
    return small, large


# --- driving the API ----------------------------------------------------------------


def api_client(server: RunningServer, token: str) -> httpx.Client:
    """A keep-alive client for the server, authenticated with ``token``."""
    return httpx.Client(
        base_url=server.base_url, headers=server.bearer(token), timeout=REQUEST_TIMEOUT_S
    )


def _form(index: int) -> dict[str, str]:
    return {
        "title": f"Benchmark capture {index}",
        "record_type": "needs_assessment",
        "record_date": "2024-03-28",
        "contract": CONTRACT_REF,
        "tags": "benchmark,capture",
        "classification": "OFFICIAL",
        "originator": "Commissioning team",
    }


def capture_once(client: httpx.Client, upload: Upload, index: int) -> float:
    """POST one capture; return its latency in seconds, or raise if it was not created."""
    files = {"file": (upload.filename, upload.content, upload.media_type)}
    started = time.perf_counter()
    response = client.post("/api/records", data=_form(index), files=files)
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise BenchmarkError(f"capture {index} got {response.status_code}: {response.text[:500]}")
    return elapsed


def create_contract(client: httpx.Client) -> None:
    """Open the case file every benchmark record is filed under."""
    body = {
        "reference": CONTRACT_REF,
        "title": "Benchmark contract",
        "provider": "Safe Haven Trust",
        "funding_stream": "MoJ Victims Grant",
        "awarded_value_pence": 4_500_000,
        "start_date": "2023-04-01",
        "end_date": "2026-03-31",
        "status": "active",
    }
    response = client.post("/api/contracts", json=body)
    if response.status_code != 201:
        raise BenchmarkError(f"contract creation got {response.status_code}: {response.text}")


def sequential(client: httpx.Client, upload: Upload, count: int, first: int) -> list[float]:
    """``count`` captures one after another."""
    return [capture_once(client, upload, first + i) for i in range(count)]


def concurrent(
    server: RunningServer, token: str, upload: Upload, count: int, clients: int, first: int
) -> list[float]:
    """``count`` captures shared by ``clients`` threads, each with its own connection."""
    numbers = itertools.count(first)
    last = first + count
    ready = threading.Barrier(clients)

    def work() -> list[float]:
        with api_client(server, token) as client:
            ready.wait()
            latencies = []
            while (index := next(numbers)) < last:
                latencies.append(capture_once(client, upload, index))
            return latencies

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(work) for _ in range(clients)]
        return [latency for future in futures for latency in future.result()]


def extraction_pending(client: httpx.Client) -> int:
    """How many captured versions still wait for text extraction (from ``/health``)."""
    body = client.get("/health").json()
    return int(body["database"]["extraction_pending"])


def drain_extraction(client: httpx.Client) -> tuple[int, float]:
    """Wait until the extraction backlog is empty; return its size and the wait."""
    started = time.perf_counter()
    backlog = pending = extraction_pending(client)
    while pending:
        if time.perf_counter() - started > DRAIN_TIMEOUT_S:
            raise BenchmarkError(f"{pending} extractions still pending after {DRAIN_TIMEOUT_S} s")
        time.sleep(0.2)
        pending = extraction_pending(client)
    return backlog, time.perf_counter() - started


# --- phases -------------------------------------------------------------------------


@dataclass
class PhaseResult:
    """The figures of one phase (capture through the API, or the baseline)."""

    name: str
    payload_bytes: int
    wall_s: float
    latency: LatencySummary
    concurrency: int = 1
    server_cpu_ms: float | None = None
    extraction_cpu_ms: float | None = None
    client_cpu_ms: float | None = None
    rss_peak_server_mib: float | None = None
    rss_peak_tree_mib: float | None = None
    backlog: int | None = None
    drain_s: float | None = None
    per_s: float = field(init=False)
    mib_per_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.per_s = self.latency.count / self.wall_s
        self.mib_per_s = self.per_s * self.payload_bytes / MIB


def run_capture_phase(
    name: str,
    server: RunningServer,
    monitor: httpx.Client,
    upload: Upload,
    drive: Callable[[], list[float]],
    concurrency: int = 1,
) -> PhaseResult:
    """Run ``drive`` while sampling the server; then drain extraction and account CPU."""
    server_before, client_before = CpuTimes.of_tree(server.pid), CpuTimes.of_self()
    with RssSampler(server.pid) as rss:
        started = time.perf_counter()
        latencies = drive()
        wall = time.perf_counter() - started
    client_cpu = CpuTimes.of_self() - client_before
    backlog, drain = drain_extraction(monitor)
    # Counted after the drain so that every capture's extraction work is included.
    server_cpu = CpuTimes.of_tree(server.pid) - server_before
    count = len(latencies)
    return PhaseResult(
        name=name,
        payload_bytes=len(upload.content),
        wall_s=wall,
        latency=LatencySummary.of(latencies),
        concurrency=concurrency,
        server_cpu_ms=server_cpu.own / count * 1000,
        extraction_cpu_ms=server_cpu.children / count * 1000,
        client_cpu_ms=client_cpu.own / count * 1000,
        rss_peak_server_mib=rss.peak_own / MIB,
        rss_peak_tree_mib=rss.peak_tree / MIB,
        backlog=backlog,
        drain_s=drain,
    )


def _write_hash_fsync(path: Path, content: bytes) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    view = memoryview(content)
    with path.open("wb") as handle:
        for offset in range(0, len(view), CHUNK_SIZE):
            chunk = view[offset : offset + CHUNK_SIZE]
            handle.write(chunk)
            digest.update(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    digest.hexdigest()
    return time.perf_counter() - started


def run_baseline(
    name: str, directory: Path, upload: Upload, count: int, threads: int = 1
) -> PhaseResult:
    """Write ``count`` files of the upload's bytes (open, write, hash, fsync, close)."""
    directory.mkdir(parents=True, exist_ok=True)
    numbers = itertools.count()

    def work() -> list[float]:
        latencies = []
        while (index := next(numbers)) < count:
            latencies.append(_write_hash_fsync(directory / f"file-{index}", upload.content))
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(work) for _ in range(threads)]
        latencies = [latency for future in futures for latency in future.result()]
    wall = time.perf_counter() - started
    shutil.rmtree(directory)
    return PhaseResult(name, len(upload.content), wall, LatencySummary.of(latencies), threads)


# --- the run ------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """How many requests each phase sends."""

    small: int = 200
    large: int = 20
    concurrent: int = 400
    clients: int = 4
    warmup: int = 10

    @classmethod
    def quick(cls) -> Workload:
        """A smoke-test sized run (well under a minute)."""
        return cls(small=40, large=5, concurrent=80, warmup=5)


@dataclass
class Results:
    """Everything one run measured."""

    machine: dict[str, str]
    command: str
    workload: Workload
    payloads: dict[str, int]
    phases: dict[str, PhaseResult] = field(default_factory=dict)


def run(workload: Workload, temp_parent: Path | None, profile_out: Path | None) -> Results:
    """Start a server on a fresh data directory and run every phase against it."""
    small, large = make_uploads()
    results = Results(
        machine=machine_info(),
        command=" ".join(["python -m benchmarks.capture", *sys.argv[1:]]),
        workload=workload,
        payloads={"small_bytes": len(small.content), "large_bytes": len(large.content)},
    )
    with tempfile.TemporaryDirectory(prefix="records-bench-", dir=temp_parent) as temp:
        data_dir = Path(temp) / "data"
        data_dir.mkdir()
        token = create_token(data_dir, "bench", "staff")
        with running_server(data_dir, profile_out=profile_out) as server:
            _run_api_phases(results, server, token, small, large)
        _run_baselines(results, data_dir / "baseline", small, large)
    return results


def _run_api_phases(
    results: Results, server: RunningServer, token: str, small: Upload, large: Upload
) -> None:
    work = results.workload
    phases = results.phases
    with api_client(server, token) as client:
        create_contract(client)
        sequential(client, small, work.warmup, first=0)
        sequential(client, large, 2, first=work.warmup)
        drain_extraction(client)
        first = work.warmup + 2
        phases["small_sequential"] = run_capture_phase(
            "100 KB, 1 client",
            server,
            client,
            small,
            lambda: sequential(client, small, work.small, first),
        )
        first += work.small
        phases["large_sequential"] = run_capture_phase(
            "10 MB, 1 client",
            server,
            client,
            large,
            lambda: sequential(client, large, work.large, first),
        )
        first += work.large
        phases["small_concurrent"] = run_capture_phase(
            f"100 KB, {work.clients} clients",
            server,
            client,
            small,
            lambda: concurrent(server, token, small, work.concurrent, work.clients, first),
            concurrency=work.clients,
        )


def _run_baselines(results: Results, directory: Path, small: Upload, large: Upload) -> None:
    work = results.workload
    phases = results.phases
    phases["baseline_small"] = run_baseline("baseline 100 KB", directory, small, work.small)
    phases["baseline_large"] = run_baseline("baseline 10 MB", directory, large, work.large)
    phases["baseline_small_concurrent"] = run_baseline(
        f"baseline 100 KB, {work.clients} threads", directory, small, work.concurrent, work.clients
    )


# --- verdicts and output ------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One target: what was asked, what was measured, and whether it is met."""

    target: str
    measured: str
    met: bool


def ratios(phases: dict[str, PhaseResult]) -> dict[str, float]:
    """Capture against baseline, for the same bytes."""
    small, base_small = phases["small_sequential"], phases["baseline_small"]
    large, base_large = phases["large_sequential"], phases["baseline_large"]
    conc, base_conc = phases["small_concurrent"], phases["baseline_small_concurrent"]
    return {
        "small_p50": small.latency.p50_ms / base_small.latency.p50_ms,
        "small_p95": small.latency.p95_ms / base_small.latency.p95_ms,
        "large_p50": large.latency.p50_ms / base_large.latency.p50_ms,
        "large_p95": large.latency.p95_ms / base_large.latency.p95_ms,
        "large_bandwidth": base_large.mib_per_s / large.mib_per_s,
        "small_concurrent_rate": base_conc.per_s / conc.per_s,
    }


def verdicts(phases: dict[str, PhaseResult], clients: int) -> list[Verdict]:
    """The issue's targets, checked against this run."""
    small, large = phases["small_sequential"], phases["large_sequential"]
    conc = phases["small_concurrent"]
    ratio = ratios(phases)["large_p50"]
    growth_own = (large.rss_peak_server_mib or 0) - (small.rss_peak_server_mib or 0)
    growth_tree = (large.rss_peak_tree_mib or 0) - (small.rss_peak_tree_mib or 0)
    limit_mib = TARGET_RSS_GROWTH / MIB
    return [
        Verdict(
            f"100 KB capture p95 <= {TARGET_SMALL_P95_MS:g} ms",
            f"{small.latency.p95_ms:.1f} ms",
            small.latency.p95_ms <= TARGET_SMALL_P95_MS,
        ),
        Verdict(
            f">= {TARGET_CONCURRENT_PER_S:g} captures/s with {clients} clients",
            f"{conc.per_s:.1f} /s",
            conc.per_s >= TARGET_CONCURRENT_PER_S,
        ),
        Verdict(
            f"10 MB capture p50 within {TARGET_LARGE_RATIO:g}x of baseline p50",
            f"{ratio:.2f}x",
            ratio <= TARGET_LARGE_RATIO,
        ),
        Verdict(
            f"server RSS flat: 10 MB peak < 100 KB peak + {limit_mib:g} MiB",
            f"{growth_own:+.1f} MiB server, {growth_tree:+.1f} MiB with children",
            growth_own < limit_mib and growth_tree < limit_mib,
        ),
    ]


def report(results: Results) -> str:
    """The human-readable report of a run."""
    phases = results.phases
    timing = format_table(
        ["phase", "n", "p50 ms", "p95 ms", "max ms", "per s", "MiB/s"],
        [
            (
                p.name,
                p.latency.count,
                p.latency.p50_ms,
                p.latency.p95_ms,
                p.latency.max_ms,
                p.per_s,
                p.mib_per_s,
            )
            for p in phases.values()
        ],
    )
    captured = [p for p in phases.values() if p.server_cpu_ms is not None]
    resources = format_table(
        [
            "phase",
            "server CPU ms/rec",
            "extract CPU ms/rec",
            "client CPU ms/rec",
            "RSS server MiB",
            "RSS +children MiB",
            "backlog",
            "drain s",
        ],
        [
            (
                p.name,
                p.server_cpu_ms,
                p.extraction_cpu_ms,
                p.client_cpu_ms,
                p.rss_peak_server_mib,
                p.rss_peak_tree_mib,
                p.backlog,
                p.drain_s,
            )
            for p in captured
        ],
    )
    ratio_rows = [(name, f"{value:.2f}x") for name, value in ratios(phases).items()]
    targets = [
        (v.target, v.measured, "met" if v.met else "MISSED")
        for v in verdicts(phases, results.workload.clients)
    ]
    machine = ", ".join(f"{k}={v}" for k, v in results.machine.items())
    return "\n\n".join(
        [
            f"machine: {machine}",
            f"payloads: {results.payloads}",
            timing,
            resources,
            "capture / baseline (latency ratios; for bandwidth and rate, baseline / capture)\n"
            + format_table(["ratio", "value"], ratio_rows),
            format_table(["target", "measured", "verdict"], targets),
        ]
    )


def to_json(results: Results) -> dict[str, Any]:
    """The run as JSON-ready data."""
    return {
        "machine": results.machine,
        "command": results.command,
        "workload": asdict(results.workload),
        "payloads": results.payloads,
        "phases": {key: asdict(phase) for key, phase in results.phases.items()},
        "ratios": ratios(results.phases),
        "targets": [asdict(v) for v in verdicts(results.phases, results.workload.clients)],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capture", description=__doc__)
    parser.add_argument("--requests", type=int, help="100 KB sequential captures (default 200)")
    parser.add_argument("--large-requests", type=int, help="10 MB captures (default 20)")
    parser.add_argument("--concurrent-requests", type=int, help="100 KB concurrent (default 400)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (40/5/80)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--profile", type=Path, metavar="PATH", help="run the server under cProfile (all threads)"
    )
    parser.add_argument("--tmp-dir", type=Path, help="parent of the temporary data directory")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    return parser.parse_args(argv)


def workload_from(args: argparse.Namespace) -> Workload:
    """Apply the command line's counts to the default (or quick) workload."""
    base = Workload.quick() if args.quick else Workload()
    return Workload(
        small=args.requests or base.small,
        large=args.large_requests or base.large,
        concurrent=args.concurrent_requests or base.concurrent,
        clients=args.clients,
        warmup=base.warmup,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report; the exit code reflects ``--check``."""
    args = parse_args(argv)
    profile_out = args.profile.resolve() if args.profile else None
    results = run(workload_from(args), args.tmp_dir, profile_out)
    print(report(results))
    if args.json:
        write_json(args.json, to_json(results))
    if profile_out is not None:
        print("\nfigures measured under the profiler are slower than normal runs\n")
        print(profile_summary(profile_out))
    missed = [v for v in verdicts(results.phases, results.workload.clients) if not v.met]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
