"""The search benchmark's tables and its targets.

Every figure of the service (tantivy, the default engine) is shown beside the
same figure of the baselines measured in the same run, and as a ratio to each:
a latency ratio below 1 (or a rate ratio above 1) means the service does better
than that baseline. SQLite FTS5 and bare tantivy run in the benchmark's process
only, so HTTP figures are compared with their in-process figures (the HTTP
figure carries the server, the token check and the audit entry on top). Whoosh
is measured as the service runs it up to ``--whoosh-max`` records; above that
its columns say "not measured".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks._harness import format_table
from benchmarks._search_service import KINDS

NOT_MEASURED = "not measured"
TERM_KINDS = ("single term", "two-term AND", "contract filter", "sort by date")


@dataclass(frozen=True)
class Target:
    """One target of the issue, checked on one size's figures."""

    what: str
    bound: float
    unit: str
    at_least: bool
    measure: Callable[[dict[str, Any]], float | None]

    def check(self, size: dict[str, Any]) -> dict[str, Any]:
        """The measured value and PASS or MISS (or NOT RUN when nothing was measured)."""
        value = self.measure(size)
        if value is None:
            verdict = "NOT RUN"
        elif self.at_least:
            verdict = "PASS" if value >= self.bound else "MISS"
        else:
            verdict = "PASS" if value <= self.bound else "MISS"
        sign = ">=" if self.at_least else "<="
        return {
            "target": f"{self.what} {sign} {self.bound:,.0f} {self.unit}",
            "measured": value,
            "verdict": verdict,
        }


def _p95(source: str, kind: str) -> Callable[[dict[str, Any]], float | None]:
    def measure(size: dict[str, Any]) -> float | None:
        figures = size["service"].get(source, {}).get(kind)
        return float(figures["p95_ms"]) if figures else None

    return measure


def _reindex_rate(size: dict[str, Any]) -> float | None:
    reindex = size["service"].get("reindex")
    return float(reindex["records_per_second"]) if reindex else None


def _found_by_text(size: dict[str, Any]) -> float | None:
    found = size["service"].get("capture_to_search")
    return float(found["text"]["p95_ms"]) if found else None


def peak_tree_rss(service: dict[str, Any]) -> float | None:
    """The highest RSS of the whole server tree over every phase that served searches."""
    peaks = [
        service.get("rss_mib_one_client", {}).get("tree"),
        service.get("concurrent", {}).get("rss_mib_tree"),
        service.get("rss_mib_captures", {}).get("tree"),
    ]
    measured = [float(p) for p in peaks if p is not None]
    return max(measured) if measured else None


def _targets() -> list[Target]:
    targets = [
        Target(f"HTTP p95 {kind}", 25, "ms", False, _p95("http", kind)) for kind in TERM_KINDS
    ]
    targets.append(Target("HTTP p95 phrase", 50, "ms", False, _p95("http", "phrase")))
    targets += [
        Target(f"engine p95 {kind}", 10, "ms", False, _p95("engine", kind)) for kind in TERM_KINDS
    ]
    targets.append(Target("engine p95 phrase", 20, "ms", False, _p95("engine", "phrase")))
    targets.append(
        Target("reindex (2 cores, database read included)", 1000, "records/s", True, _reindex_rate)
    )
    targets.append(
        Target("capture found by a word of its text, p95", 1000, "ms", False, _found_by_text)
    )
    targets.append(
        Target(
            "RSS of serve and all its processes",
            1024,
            "MiB",
            False,
            lambda s: peak_tree_rss(s["service"]),
        )
    )
    return targets


TARGETS = _targets()


def check_targets(size: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target checked on one size's figures."""
    return [target.check(size) for target in TARGETS]


# --- tables --------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def _whoosh(size: dict[str, Any]) -> dict[str, Any]:
    whoosh: dict[str, Any] = size.get("whoosh") or {}
    return whoosh


def indexing_table(sizes: list[dict[str, Any]]) -> str:
    """Records per second: the service's reindex against every baseline."""
    rows = []
    for s in sizes:
        ours = s["service"]["reindex"]["records_per_second"]
        whoosh = _whoosh(s).get("reindex", {}).get("records_per_second")
        fts5 = s["baselines"]["fts5"]["records_per_second"]
        bare = s["baselines"]["tantivy"]["records_per_second"]
        rows.append(
            [
                s["size"],
                ours,
                s["service"]["reindex"]["records_per_cpu_second"],
                whoosh if whoosh is not None else NOT_MEASURED,
                fts5,
                bare,
                _ratio(ours, whoosh),
                _ratio(ours, fts5),
                _ratio(ours, bare),
            ]
        )
    headers = ["records", "service reindex", "per CPU-s", "Whoosh reindex", "FTS5", "bare tantivy"]
    headers += ["x Whoosh", "x FTS5", "x bare tantivy"]
    return (
        "Indexing, records/s (service and Whoosh: `records-service reindex`; others in process)\n"
        + format_table(headers, rows)
    )


def _pair(figures: dict[str, Any] | None) -> str:
    if not figures:
        return NOT_MEASURED
    return f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f}"


def _p95_of(figures: dict[str, Any] | None) -> float | None:
    return float(figures["p95_ms"]) if figures else None


def latency_table(sizes: list[dict[str, Any]], source: str) -> str:
    """p50 / p95 of one source (``http`` or ``engine``) of the service against the baselines."""
    rows = []
    for s in sizes:
        for kind in KINDS:
            ours = s["service"][source].get(kind)
            whoosh = _whoosh(s).get(source, {}).get(kind)
            fts5 = s["baselines"]["fts5"]["engine"][kind]
            bare = s["baselines"]["tantivy"]["engine"][kind]
            rows.append(
                [
                    f"{s['size']} {kind}",
                    _pair(ours),
                    _pair(whoosh),
                    _pair(fts5),
                    _pair(bare),
                    _ratio(_p95_of(ours), _p95_of(whoosh)),
                    _ratio(_p95_of(ours), _p95_of(fts5)),
                    _ratio(_p95_of(ours), _p95_of(bare)),
                ]
            )
    label = "HTTP (bearer token and audit entry)" if source == "http" else "engine in process"
    headers = ["records, query", f"service {source}", f"Whoosh {source}", "FTS5", "bare tantivy"]
    headers += ["p95 x Whoosh", "p95 x FTS5", "p95 x bare tantivy"]
    return (
        f"Query p50 / p95 ms, service {label}; FTS5 and bare tantivy in process\n"
        + format_table(headers, rows)
    )


def _service_row(size: int, name: str, figures: dict[str, Any]) -> list[object]:
    found = figures.get("capture_to_search", {})
    return [
        f"{size} {name}",
        figures["reindex"]["index_mib"],
        figures["first_query_ms"],
        figures["rss_mib_one_client"]["tree"],
        figures["concurrent"]["rss_mib_tree"],
        figures["concurrent"]["pss_mib_tree_at_end"],
        figures.get("rss_mib_captures", {}).get("tree"),
        figures["concurrent"]["queries_per_second"],
        _pair(found.get("title")),
        _pair(found.get("text")),
    ]


def service_table(sizes: list[dict[str, Any]]) -> str:
    """Index size, memory, throughput and capture-to-found for each engine in the service."""
    rows = []
    for s in sizes:
        rows.append(_service_row(s["size"], "tantivy", s["service"]))
        if _whoosh(s):
            rows.append(_service_row(s["size"], "Whoosh", _whoosh(s)))
        else:
            rows.append([f"{s['size']} Whoosh", NOT_MEASURED, *["-"] * 8])
        for name in ("fts5", "tantivy"):
            rows.append(
                [f"{s['size']} {name} (baseline)", s["baselines"][name]["index_mib"], *["-"] * 8]
            )
    headers = [
        "records, engine",
        "index MiB",
        "first query ms",
        "RSS MiB 1 client",
        "RSS MiB 4 clients",
        "PSS MiB 4 clients",
        "RSS MiB captures",
        "queries/s 4 clients",
        "found by title p50/p95 ms",
        "found by text p50/p95 ms",
    ]
    return "The service (RSS and PSS: serve and all its processes)\n" + format_table(headers, rows)


def targets_table(size: dict[str, Any]) -> str:
    """PASS or MISS for every target at one size."""
    rows = [[t["target"], t["measured"], t["verdict"]] for t in size["targets"]]
    return (
        f"Targets (set for 100,000 records), checked at {size['size']:,} records\n"
        + format_table(["target", "measured", "verdict"], rows)
    )


def report(sizes: list[dict[str, Any]]) -> str:
    """Every table, then the targets of each size."""
    parts = [
        indexing_table(sizes),
        latency_table(sizes, "http"),
        latency_table(sizes, "engine"),
        service_table(sizes),
    ]
    for s in sizes:
        whoosh = "measured" if _whoosh(s) else f"{NOT_MEASURED} (above --whoosh-max)"
        parts.append(f"Whoosh at {s['size']:,} records: {whoosh}")
        parts.append(targets_table(s))
    return "\n\n".join(parts)
