"""The ``records-service finance`` commands: import a finance system's payment export,
and report every contract's money.

A thin shell over :mod:`records_service.finance.importer` and
:mod:`records_service.finance.report`. What an import adds is audited as ``cli``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from records_service.cli._services import CLI_ACTOR, cli_services
from records_service.cli.options import DAY_RANGE, day_option
from records_service.db import read_scope, session_scope
from records_service.finance.importer import ImportProblem, ImportReport, import_payments
from records_service.finance.reconcile import pounds
from records_service.finance.report import money_report, report_csv, report_text
from records_service.settings import Settings

MAX_IMPORT_BYTES = 200 * 1024 * 1024


@click.group()
def finance() -> None:
    """Import payments and report money on the case files."""


@finance.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and report every row; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def import_(settings: Settings, path: Path, dry_run: bool, as_json: bool) -> None:
    """Import a finance system's payment export (CSV); payments already recorded are
    skipped, and one bad row imports nothing."""
    data = path.read_bytes()
    if len(data) > MAX_IMPORT_BYTES:
        raise click.ClickException(f"{path} is larger than {MAX_IMPORT_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not UTF-8 text: {exc}") from None
    sha256 = hashlib.sha256(data).hexdigest()
    # Nothing is written when a row is bad or on a dry run (import_payments sees to it).
    with (
        cli_services(settings, refusals=(ImportProblem,)) as services,
        session_scope(services.engine) as session,
    ):
        report = import_payments(
            session,
            text,
            source=path.name,
            sha256=sha256,
            actor=CLI_ACTOR,
            clock=services.clock,
            dry_run=dry_run,
        )
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else _summary(report))
    if not report.ok:
        sys.exit(1)


def _summary(report: ImportReport) -> str:
    verb = "would add" if report.dry_run else "added"
    if not report.ok:
        verb = "imported nothing:"
    lines = [
        f"{report.source} (sha256 {report.sha256[:16]}): {report.rows} rows",
        f"{verb} {report.added} payments ({pounds(report.added_pence)})"
        if report.ok
        else f"{verb} {len(report.errors)} rows cannot be imported",
        f"already recorded, unchanged: {report.unchanged}",
    ]
    lines += [f"error: {error}" for error in report.errors]
    return "\n".join(lines)


@finance.command("report")
@day_option("--as-at", "as_at", help=f"Total to this day ({DAY_RANGE}); default today.")
@click.option("--contract", default=None, help="Only this contract reference.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, amounts in pence.")
@click.pass_obj
def report(settings: Settings, as_at: datetime | None, contract: str | None, as_csv: bool) -> None:
    """Every contract's award, variations, scheduled, paid, spent, recovered and unspent."""
    with cli_services(settings) as services, read_scope(services.engine) as session:
        day = as_at.date() if as_at else services.clock().date()
        rows = money_report(session, day, contract)
    if contract is not None and not rows:
        raise click.ClickException(f"no contract with reference {contract!r}")
    click.echo(report_csv(rows, day) if as_csv else report_text(rows, day), nl=not as_csv)
