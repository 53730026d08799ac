"""The Panel's report benchmark: HTML and PDF over 5,000 contracts, 100,000 records and
about 200,000 payments over ten years, on the embedded default (SQLite).

Run from the repository root::

    .venv/bin/python -m benchmarks.panel_report [--quick] [--contracts N] [--json F]

Set-up (not timed) bulk-inserts seeded synthetic rows into a fresh, migrated SQLite
database: contracts starting from 2016 to 2026, each with an award (and its decision
record), 20 records on its file, about 40 payments over its term, a spend report with
outcomes for each quarter delivered, some variations and recoveries; open findings of
every money and completeness kind; disposals carried out; and a signed checkpoint of
a real audit log. Then, in the same process, for two periods (the latest financial
year, and the whole ten years):

* **baseline, SQL**: plain ``sqlite3`` reads of every row the report reads (the
  contracts, awards, records' types and dates, payments, spend reports, findings,
  disposals), with no grouping, arithmetic or layout;
* **gather**: :func:`records_service.reports.panel.gather_panel`;
* **HTML**: gather and render to HTML (target: under 5 s);
* **PDF**: gather and lay out as PDF (target: under 30 s);
* **baseline, PDF**: ReportLab laying out a one-page document with the report's fonts
  (its fixed cost, and a measure of how fast the machine is at the time);
* **capture**: keeping the PDF as a ``panel_report`` record (store and catalogue).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pypdf import PdfReader
from sqlalchemy import Engine, insert

from benchmarks._harness import format_table, machine_info, source_revision, write_json
from records_service.audit.actions import AuditAction, ContractPayload
from records_service.audit.keys import trusted_keys
from records_service.audit.log import record_event
from records_service.audit.writer import prepare_audit, writer_for
from records_service.auth.models import User
from records_service.contracts.models import Contract
from records_service.db import make_engine, read_scope, session_scope
from records_service.finance.models import Award, Payment, Recovery, SpendReport, Variation
from records_service.migrations import upgrade
from records_service.records.capture import CaptureContext, capture_record
from records_service.records.models import Record, Version
from records_service.records.schemas import RecordMetadata
from records_service.reports.lines import PanelReport, Period
from records_service.reports.panel import gather_panel
from records_service.reports.pdf import render_pdf
from records_service.reports.pdf_layout import BODY, Cell, Late, ReportDocument
from records_service.reports.render import render_html
from records_service.retention.models import DisposalRecord, Disposition, Finding
from records_service.retention.schedule import load_schedule
from records_service.settings import Settings
from records_service.storage import LocalBlobStore

SEED = 20260615
AS_OF = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
FIRST_START = date(2016, 4, 1)
HTML_TARGET_S = 5.0
PDF_TARGET_S = 30.0
RECORDS_PER_FILE = 20
PAYMENTS_PER_FILE = 40
FILE_TYPES = (
    "needs_assessment",
    "specification",
    "invitation_to_tender",
    "decision_record",
    "contract",
    "monitoring_return",
    "correspondence",
    "invoice",
    "monitoring_return",
    "contract_review",
)
FINDING_KINDS = (
    "missing_record",
    "overdue_return",
    "overpaid",
    "spend_behind_profile",
    "unspent_at_closure",
    "payment_without_invoice",
    "spend_unreported",
    "publication_overdue",
)
PERIODS = {
    "financial year 2025-26": Period(date(2025, 4, 1), date(2026, 3, 31)),
    "ten years": Period(FIRST_START, AS_OF),
}
T = TypeVar("T")


# --- synthetic data -----------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """How many contracts (each brings 20 records and about 40 payments)."""

    contracts: int


def _contract(rng: random.Random, n: int, span_days: int) -> dict[str, Any]:
    start = FIRST_START + timedelta(days=rng.randrange(span_days))
    end = start + timedelta(days=rng.randrange(365, 4 * 365))
    status = "closed" if end < AS_OF else "active"
    return {
        "id": n,
        "reference": f"OPCC-P-{n:05d}",
        "title": f"Commissioned service {n}",
        "provider": f"Provider {n % 700}",
        "funding_stream": ("MoJ Victims Grant", "PCC Community Safety Fund", "Home Office")[n % 3],
        "awarded_value_pence": rng.randrange(500_000, 50_000_000),
        "start_date": start,
        "end_date": end,
        "closed_on": end if status == "closed" else None,
        "status": status,
        "is_deed": False,
        "created_at": NOW,
        "created_by_id": 1,
        "updated_at": NOW,
        "updated_by_id": 1,
    }


def _records(contract: dict[str, Any], first: int) -> list[dict[str, Any]]:
    start, end = contract["start_date"], min(contract["end_date"], AS_OF)
    step = max(1, (end - start).days // RECORDS_PER_FILE)
    return [
        {
            "id": f"{first + i:032x}",
            "title": f"Record {first + i}",
            "record_type": FILE_TYPES[i % len(FILE_TYPES)],
            "contract_id": contract["id"],
            "classification": "OFFICIAL",
            "record_date": min(start + timedelta(days=i * step), AS_OF),
            "status": "active",
            "current_version": 1,
            "captured_at": NOW,
            "captured_by_id": 1,
            "updated_at": NOW,
        }
        for i in range(RECORDS_PER_FILE)
    ]


def _version(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_id": record["id"],
        "number": 1,
        "sha256": record["id"] * 2,
        "size": 1000,
        "media_type": "application/pdf",
        "original_filename": "record.pdf",
        "storage_key": f"records/{record['id']}/v1",
        "text_status": "extracted",
        "captured_at": NOW,
        "captured_by_id": 1,
    }


def _money(
    rng: random.Random, contract: dict[str, Any], decision: str, variation: str
) -> dict[str, list[dict[str, Any]]]:
    cid, value = contract["id"], contract["awarded_value_pence"]
    start, end = contract["start_date"], min(contract["end_date"], AS_OF)
    days = max(1, (end - start).days)
    stamp = {"recorded_at": NOW, "recorded_by": "bench"}
    payments = [
        {
            "contract_id": cid,
            "payment_reference": f"PAY-{cid}-{i}",
            "paid_on": start + timedelta(days=days * i // PAYMENTS_PER_FILE),
            "amount_pence": value // PAYMENTS_PER_FILE + rng.randrange(-1000, 1000),
            "invoice_reference": f"INV-{cid}-{i}",
            "source": "bench",
            **stamp,
        }
        for i in range(PAYMENTS_PER_FILE)
    ]
    spend = [
        {
            "contract_id": cid,
            "period_start": start + timedelta(days=q * 91),
            "period_end": start + timedelta(days=q * 91 + 90),
            "spent_pence": value // max(1, days // 91) * rng.randrange(70, 100) // 100,
            "outcomes": json.dumps({"people supported": rng.randrange(10, 200)}),
            **stamp,
        }
        for q in range(days // 91)
    ]
    award = {
        "contract_id": cid,
        "kind": ("contract", "grant", "crime_and_disorder_grant")[cid % 3],
        "awarded_on": start - timedelta(days=30),
        "decision_record_id": decision,
        **stamp,
    }
    extra: dict[str, list[dict[str, Any]]] = {"variations": [], "recoveries": []}
    if cid % 10 == 0:
        row = {"contract_id": cid, "decided_on": start + timedelta(days=days // 2)}
        extra["variations"].append(
            {**row, "change_pence": value // 10, "record_id": variation, "reason": "more", **stamp}
        )
    if contract["status"] == "closed" and cid % 7 == 0:
        extra["recoveries"].append(
            {
                "contract_id": cid,
                "recovered_on": end + timedelta(days=30),
                "amount_pence": value // 50,
                "decision_record_id": decision,
                "reason": "unspent",
                **stamp,
            }
        )
    return {"payments": payments, "spend": spend, "awards": [award], **extra}


TABLES = {
    "awards": Award,
    "variations": Variation,
    "payments": Payment,
    "spend": SpendReport,
    "recoveries": Recovery,
}


def _batches(rows: Iterator[T], size: int = 20_000) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def populate(engine: Engine, workload: Workload) -> dict[str, int]:
    """Bulk-insert the synthetic case files; returns the rows of each table."""
    rng = random.Random(SEED)
    span = (AS_OF - FIRST_START).days
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(insert(User), [_bench_user()])
        contracts = [_contract(rng, n, span) for n in range(1, workload.contracts + 1)]
        conn.execute(insert(Contract), contracts)
        for batch in _batches(iter(contracts), 1_000):
            rows: dict[str, list[dict[str, Any]]] = {"records": [], **{k: [] for k in TABLES}}
            for contract in batch:
                records = _records(contract, contract["id"] * RECORDS_PER_FILE)
                rows["records"] += records
                money = _money(rng, contract, records[3]["id"], records[9]["id"])
                for name, found in money.items():
                    rows[name] += found
            conn.execute(insert(Record), rows["records"])
            conn.execute(insert(Version), [_version(r) for r in rows["records"]])
            for name, table in TABLES.items():
                if rows[name]:
                    conn.execute(insert(table), rows[name])
            for name, found in rows.items():
                counts[name] = counts.get(name, 0) + len(found)
        counts["findings"] = _findings(conn, rng, contracts)
        counts["disposals"] = _disposals(conn, contracts)
    return counts


def _bench_user() -> dict[str, Any]:
    return {
        "id": 1,
        "username": "bench",
        "display_name": "",
        "roles": "records_manager",
        "disabled": False,
        "created_at": NOW,
    }


def _findings(conn: Any, rng: random.Random, contracts: list[dict[str, Any]]) -> int:
    """One open finding for every other contract, of the report's kinds."""
    rows = [
        {
            "kind": FINDING_KINDS[c["id"] % len(FINDING_KINDS)],
            "subject": f"contract:{c['reference']}",
            "key": f"bench:{c['id']}",
            "contract_ref": c["reference"],
            "summary": f"{c['reference']}: a finding of the benchmark, number {c['id']}",
            "details": "{}",
            "first_seen": NOW - timedelta(days=rng.randrange(400)),
            "last_seen": NOW,
        }
        for c in contracts
        if c["id"] % 2 == 0
    ]
    conn.execute(insert(Finding), rows)
    return len(rows)


def _disposals(conn: Any, contracts: list[dict[str, Any]]) -> int:
    """One record disposed of, over the last three years, for every tenth closed file."""
    closed = [c for c in contracts if c["status"] == "closed" and c["id"] % 10 == 0]
    proposals, tombstones = [], []
    for n, contract in enumerate(closed, start=1):
        record_id = f"{contract['id'] * RECORDS_PER_FILE + 6:032x}"  # its correspondence
        executed = NOW - timedelta(days=n % (3 * 365))
        stamp = {"record_id": record_id, "action": "destroy", "rule": "correspondence"}
        proposals.append(
            {
                "id": n,
                **stamp,
                "status": "executed",
                "proposed_by": "bench",
                "proposed_at": executed,
            }
        )
        tombstones.append(
            {
                **stamp,
                "disposition_id": n,
                "title": f"Correspondence of {contract['reference']}",
                "record_type": "correspondence",
                "contract_ref": contract["reference"],
                "metadata_json": "{}",
                "versions_json": "[]",
                "citation": "benchmark",
                "proposed_by": "bench",
                "approved_by": "second",
                "approval_reason": "retention over",
                "executed_at": executed,
            }
        )
    if proposals:
        conn.execute(insert(Disposition), proposals)
        conn.execute(insert(DisposalRecord), tombstones)
    return len(tombstones)


def sign_checkpoint(settings: Settings, engine: Engine, store: LocalBlobStore) -> int:
    """A real audit log of a few entries, and a signed checkpoint of it."""
    prepare_audit(settings, store)
    with session_scope(engine) as session:
        for n in range(100):
            record_event(
                session,
                actor="bench",
                action=AuditAction.CONTRACT_CREATE,
                subject=f"contract:OPCC-P-{n + 1:05d}",
                payload=ContractPayload(changes={"status": [None, "active"]}),
                clock=lambda: NOW,
            )
    signed = writer_for(settings, engine=engine, store=store, clock=lambda: NOW).publish()
    assert signed is not None
    return signed.tree_size


# --- measurements -------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """Wall-clock and CPU seconds of one phase (the CPU figure shrugs off other load)."""

    wall_s: float
    cpu_s: float


def timed(work: Callable[[], T]) -> tuple[T, Timed]:
    """Run ``work`` once and time it."""
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, Timed(time.perf_counter() - started, time.process_time() - cpu)


BASELINE_SQL = (
    "SELECT id, reference, title, provider, status, start_date, end_date, closed_on, "
    "is_deed, awarded_value_pence FROM contracts",
    "SELECT contract_id, kind, awarded_on, decision_record_id FROM finance_awards",
    "SELECT contract_id, record_type, record_date FROM records",
    "SELECT contract_id, paid_on, amount_pence, invoice_record_id FROM finance_payments",
    "SELECT contract_id, period_end, spent_pence, outcomes FROM finance_spend_reports",
    "SELECT contract_id, change_pence FROM finance_variations",
    "SELECT contract_id, amount_pence FROM finance_recoveries",
    "SELECT kind, contract_ref, summary, first_seen FROM findings WHERE resolved_at IS NULL",
    "SELECT record_id, title, executed_at FROM disposal_records",
)


def baseline_sql(database: Path) -> int:
    """Every row the report reads, fetched with plain ``sqlite3``; the row count."""
    with sqlite3.connect(database) as conn:
        return sum(len(conn.execute(sql).fetchall()) for sql in BASELINE_SQL)


def one_page_pdf() -> bytes:
    """A one-page document laid out as the report is (fonts, late page numbers)."""
    buffer = io.BytesIO()
    late = Late("Baseline", ())
    ReportDocument(buffer, late).save_as_pdf([Cell(("Baseline: one page.", BODY))])
    return buffer.getvalue()


@dataclass(frozen=True)
class PeriodResult:
    """The figures of one period's report."""

    name: str
    case_files: int
    awards: int
    findings: int
    disposals: int
    gather: Timed
    html: Timed
    pdf: Timed
    html_bytes: int
    pdf_bytes: int
    pdf_pages: int
    capture: Timed


def measure(name: str, period: Period, ctx: CaptureContext, keys: list[str]) -> PeriodResult:
    """Gather, HTML and PDF for one period (each from scratch), and the capture."""
    schedule = load_schedule(None)

    def gather() -> PanelReport:
        with read_scope(ctx.engine) as session:
            return gather_panel(
                session,
                period=period,
                schedule=schedule,
                produced_at=NOW,
                produced_by="bench",
                verifier_keys=keys,
            )

    report, gathered = timed(gather)
    html, html_time = timed(lambda: render_html(gather()))
    pdf, pdf_time = timed(lambda: render_pdf(gather()))
    _, capture = timed(lambda: _capture(ctx, period, pdf))
    return PeriodResult(
        name,
        len(report.case_files),
        len(report.awards),
        report.findings_open,
        len(report.disposals),
        gathered,
        html_time,
        pdf_time,
        len(html.encode()),
        len(pdf),
        len(PdfReader(io.BytesIO(pdf)).pages),
        capture,
    )


def _capture(ctx: CaptureContext, period: Period, pdf: bytes) -> str:
    with read_scope(ctx.engine) as session:
        actor = session.get(User, 1)
        assert actor is not None
        session.expunge(actor)
    meta = RecordMetadata(
        title=f"Panel's report, {period.start} to {period.end}",
        record_type="panel_report",
        record_date=AS_OF,
    )
    record, _ = capture_record(
        ctx, meta=meta, source=io.BytesIO(pdf), filename="panel-report.pdf", actor=actor
    )
    return record.id


@dataclass(frozen=True)
class Results:
    """Everything measured in one benchmark run."""

    workload: Workload
    rows: dict[str, int]
    setup_s: float
    baseline_sql: Timed
    baseline_rows: int
    baseline_pdf: Timed
    periods: list[PeriodResult]
    machine: dict[str, str]
    load_1m_at_end: float


def run(workload: Workload, tmp_dir: Path | None) -> Results:
    """Build the database, then time the baselines and each period's report."""
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="panel-bench-", dir=tmp_dir) as tmp:
        root = Path(tmp)
        database = root / "records.db"
        settings = Settings(data_dir=root, database_url=f"sqlite:///{database}")
        engine = make_engine(settings.resolved_database_url)
        store = LocalBlobStore(root / "blobs")
        started = time.perf_counter()
        upgrade(engine)
        rows = populate(engine, workload)
        rows["audit entries"] = sign_checkpoint(settings, engine, store)
        setup = time.perf_counter() - started
        baseline_rows, sql_time = timed(lambda: baseline_sql(database))
        one_page_pdf()  # the first call loads the fonts: not the baseline's
        _, pdf_time = timed(one_page_pdf)
        schedule = load_schedule(None)
        ctx = CaptureContext(
            engine=engine,
            store=store,
            clock=lambda: NOW,
            record_types=frozenset(schedule.record_types),
            max_upload_bytes=settings.max_upload_bytes,
        )
        keys = trusted_keys(settings)
        periods = [measure(name, period, ctx, keys) for name, period in PERIODS.items()]
        engine.dispose()
    return Results(
        workload,
        rows,
        setup,
        sql_time,
        baseline_rows,
        pdf_time,
        periods,
        machine,
        os.getloadavg()[0],
    )


# --- output ---------------------------------------------------------------------------


def report(results: Results) -> str:
    """The figures as text."""
    sql, pdf = results.baseline_sql, results.baseline_pdf
    rows: list[tuple[object, ...]] = [
        ("baseline: the rows, plain sqlite3", "", sql.wall_s, sql.cpu_s, "1.0x"),
        ("baseline: a one-page PDF", "", pdf.wall_s, pdf.cpu_s, "1.0x"),
    ]
    lines = []
    for p in results.periods:
        rows += [
            (f"{p.name}: gather", "", p.gather.wall_s, p.gather.cpu_s, _x(p.gather, sql)),
            (f"{p.name}: HTML", HTML_TARGET_S, p.html.wall_s, p.html.cpu_s, _x(p.html, sql)),
            (f"{p.name}: PDF", PDF_TARGET_S, p.pdf.wall_s, p.pdf.cpu_s, _x(p.pdf, pdf)),
            (f"{p.name}: capture the PDF", "", p.capture.wall_s, p.capture.cpu_s, ""),
        ]
        lines.append(
            f"{p.name}: {p.case_files:,} case files, {p.awards:,} awards, {p.findings:,} open "
            f"findings, {p.disposals:,} disposals; HTML {p.html_bytes / 1e6:.1f} MB, PDF "
            f"{p.pdf_bytes / 1e6:.1f} MB, {p.pdf_pages:,} pages; HTML target "
            f"{_verdict(p.html, HTML_TARGET_S)}, PDF target {_verdict(p.pdf, PDF_TARGET_S)}"
        )
    headers = ("phase", "target s", "wall s", "CPU s", "wall vs baseline")
    rows_text = ", ".join(f"{name} {n:,}" for name, n in results.rows.items())
    return "\n".join(
        [
            f"the Panel's report over {rows_text} (set-up {results.setup_s:.1f} s)",
            "",
            format_table(headers, rows),
            "",
            *lines,
            "machine: " + ", ".join(f"{k} {v}" for k, v in results.machine.items()),
            f"load_1m_at_end {results.load_1m_at_end:.2f}; source {source_revision()}",
        ]
    )


def _x(phase: Timed, base: Timed) -> str:
    return f"{phase.wall_s / base.wall_s:.1f}x"


def _verdict(phase: Timed, target: float) -> str:
    return "met" if phase.wall_s < target else "MISSED"


def to_json(results: Results) -> dict[str, Any]:
    """The figures as JSON-ready data."""
    return {
        "rows": results.rows,
        "setup_s": results.setup_s,
        "baseline_sql": vars(results.baseline_sql),
        "baseline_rows": results.baseline_rows,
        "baseline_pdf": vars(results.baseline_pdf),
        "periods": [
            {
                **{k: v for k, v in vars(p).items() if not isinstance(v, Timed)},
                **{k: vars(v) for k, v in vars(p).items() if isinstance(v, Timed)},
            }
            for p in results.periods
        ],
        "targets_s": {"html": HTML_TARGET_S, "pdf": PDF_TARGET_S},
        "machine": {**results.machine, "load_1m_at_end": f"{results.load_1m_at_end:.2f}"},
        "source": source_revision(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contracts", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="Smoke run: 250 contracts.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="Where to build the database.")
    parser.add_argument("--check", action="store_true", help="Exit 1 if a target is missed.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report; the exit code reflects ``--check``."""
    args = parse_args(argv)
    results = run(Workload(250 if args.quick else args.contracts), args.tmp_dir)
    print(report(results))
    if args.json:
        write_json(args.json, to_json(results))
    missed = any(
        p.html.wall_s >= HTML_TARGET_S or p.pdf.wall_s >= PDF_TARGET_S for p in results.periods
    )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
