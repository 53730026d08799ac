"""The ``records-service report`` commands: the Panel's report for a period.

A thin shell over :mod:`records_service.reports.produce`: the report is made, captured
as a ``panel_report`` record (its text is extracted and indexed by the service's
worker, as for an import), and the same bytes are written to ``--output``.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path
from typing import cast

import click

from records_service.audit.keys import trusted_keys
from records_service.cli._services import cli_services
from records_service.cli.options import DAY_RANGE, day_option
from records_service.db import read_scope
from records_service.reports.lines import Period
from records_service.reports.produce import FORMATS, ReportFormat, make_panel_report, report_user
from records_service.settings import Settings


@click.group()
def report() -> None:
    """Reports made from the service's data, each kept as a record."""


@report.command("panel")
@day_option("--from", "start", required=True, help=f"The period's first day ({DAY_RANGE}).")
@day_option("--to", "end", required=True, help="The period's last day (YYYY-MM-DD), included.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the report to this file (default: its own name, in the current directory).",
)
@click.option(
    "--user",
    "username",
    default=None,
    help="The records manager or admin the report is made by (default: your login name).",
)
@click.pass_obj
def panel(
    settings: Settings,
    start: datetime,
    end: datetime,
    fmt: str,
    output: Path | None,
    username: str | None,
) -> None:
    """Make the Panel's report for a period (HTML or PDF), capture it as a
    panel_report record, and write it to a file.

    It lists the contracts and grants awarded in the period, the completeness of each
    case file, money and outcomes against each award, the findings open now, the
    disposals carried out, and the audit log's latest signed checkpoint.
    """
    with cli_services(settings) as services:
        period = Period(start.date(), end.date())
        with read_scope(services.engine) as session:
            actor = report_user(session, username or getpass.getuser())
        made = make_panel_report(
            services.capture_context(),
            period=period,
            schedule=services.schedule,
            fmt=cast(ReportFormat, fmt),
            actor=actor,
            verifier_keys=trusted_keys(settings),
        )
    target = output or Path(made.filename)
    target.write_bytes(made.content)
    click.echo(
        f"Panel's report {period.start} to {period.end} captured as record {made.record_id}; "
        f"written to {target} ({len(made.content)} bytes)"
    )
