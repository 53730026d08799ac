"""The ``records-service retention`` commands: run the job, list findings.

A thin shell over :mod:`records_service.retention.job` and
:mod:`records_service.retention.findings`, on the same services as the API. Runs
from the command line (and cron) act as ``system``.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

import click

from records_service.cli._services import cli_services
from records_service.cli.options import DAY_RANGE, day_option
from records_service.db import session_scope
from records_service.retention.findings import FindingFilters, export_findings, list_findings
from records_service.retention.job import RunReport, count_records, run_as_system
from records_service.retention.models import FindingKind
from records_service.settings import Settings


@click.group()
def retention() -> None:
    """Run the retention job and list its findings."""


@retention.command("run")
@day_option("--at", "at", help=f"Evaluate as of this day ({DAY_RANGE}); default today.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option(
    "--fixity",
    type=click.Choice(["off", "sample", "full"]),
    default=None,
    help="Override the fixity mode (RECORDS_RETENTION__FIXITY).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def run(
    settings: Settings, at: datetime | None, dry_run: bool, fixity: str | None, as_json: bool
) -> None:
    """Evaluate every record and contract; write findings and propose disposals."""
    with cli_services(settings) as services:
        total = count_records(services.engine)
        with click.progressbar(length=total, label="records", file=sys.stderr) as bar:
            report = run_as_system(
                services.engine,
                services.store,
                services.schedule,
                services.settings,
                services.clock,
                at=at.date() if at else None,
                dry_run=dry_run,
                fixity=fixity,
                progress=bar.update,
                replica=services.replica,
            )
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    click.echo(summary_table(report))


def summary_table(report: RunReport) -> str:
    """The run's report as a two-column text table."""
    rows: list[tuple[str, object]] = [
        ("as of", f"{report.as_of}{' (dry run)' if report.dry_run else ''}"),
        ("records", report.records),
        ("contracts", report.contracts),
        *((f"decision: {kind}", count) for kind, count in report.decisions.items()),
        ("dispositions proposed", report.proposed),
        ("findings opened", report.findings_opened),
        ("findings updated", report.findings_updated),
        ("findings resolved", report.findings_resolved),
        *((f"open: {kind}", count) for kind, count in report.open_findings.items()),
        ("fixity", f"{report.fixity_mode}: {report.fixity_checked} checked"),
        ("fixity failures", report.fixity_failures),
        *_replica_row(report),
        ("object locks mirrored", report.locks_mirrored),
        ("job errors", report.job_errors),
        ("errors", len(report.errors)),
        ("seconds", f"{report.seconds:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"error: {error}" for error in report.errors]
    return "\n".join(lines)


def _replica_row(report: RunReport) -> list[tuple[str, object]]:
    if not report.replica:
        return []
    counts = (
        f"{report.replica_checked} checked, {report.replica_failures} bad or missing, "
        f"{report.replica_overdue} overdue"
    )
    return [("replica copies", counts)]


@retention.command("findings")
@click.option("--kind", type=click.Choice([k.value for k in FindingKind]), default=None)
@click.option("--contract", default=None, help="Only findings about this contract reference.")
@click.option(
    "--state",
    type=click.Choice(["open", "resolved", "all"]),
    default="open",
    show_default=True,
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV, as GET /api/retention/findings.csv.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one finding each.")
@click.pass_obj
def findings(
    settings: Settings,
    kind: str | None,
    contract: str | None,
    state: str,
    as_csv: bool,
    as_json: bool,
) -> None:
    """List the retention job's findings (open ones by default)."""
    filters = FindingFilters(
        kind=FindingKind(kind) if kind else None, contract=contract, state=state
    )
    with cli_services(settings) as services, session_scope(services.engine) as session:
        rows, _ = list_findings(session, filters=filters)
        export = export_findings(session, filters) if as_csv else ""
    if as_csv:
        click.echo(export, nl=False)
        return
    for row in rows:
        if as_json:
            click.echo(json.dumps({"kind": row.kind, "key": row.key, "summary": row.summary}))
        else:
            seen = row.first_seen.date()
            click.echo(f"{row.kind}\t{row.subject}\t{_since(seen)}\t{row.summary}")


def _since(day: date) -> str:
    return f"since {day.isoformat()}"
