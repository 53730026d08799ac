"""The ``records-service transparency`` commands: the register as at a day (a table,
CSV or JSON), and recording that an item was published (audited as ``cli``)."""

from __future__ import annotations

from datetime import datetime

import click

from records_service.cli._services import CLI_ACTOR, cli_services
from records_service.cli.options import DAY_RANGE, day_option
from records_service.db import read_scope, session_scope
from records_service.settings import Settings
from records_service.transparency.schemas import PublicationIn
from records_service.transparency.service import (
    describe,
    record_publication,
    register_csv,
    register_for,
    register_json,
)


@click.group()
def transparency() -> None:
    """The Specified Information Order register: what must be published, and what was."""


@transparency.command("register")
@day_option("--as-at", "as_at", help=f"The register as at this day ({DAY_RANGE}); default today.")
@click.option(
    "--format",
    "form",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.pass_obj
def register(settings: Settings, as_at: datetime | None, form: str) -> None:
    """Every item that must be published, whether it was, when and where."""
    with cli_services(settings) as services, read_scope(services.engine) as session:
        day = as_at.date() if as_at else services.clock().date()
        rules = services.schedule.transparency
        items = register_for(session, rules, day, None)
    if form == "csv":
        click.echo(register_csv(items, rules, day), nl=False)
    elif form == "json":
        click.echo(register_json(items, rules, day), nl=False)
    else:
        click.echo(f"register as at {day.isoformat()}: {len(items)} items")
        for item in items:
            where = (
                f"published {item.published_on} at {item.location}"
                if item.published_on
                else f"publish by {item.due_by}"
            )
            click.echo(f"{item.state}\t{item.key}\t{item.title} ({describe(item, rules)})\t{where}")


@transparency.command("publish")
@click.argument("item")
@day_option("--on", "published_on", required=True, help="The day it was published (YYYY-MM-DD).")
@click.option("--location", required=True, help="Where: the URL, or a reference.")
@click.option("--copy", "copy_record", default=None, help="The record id of the copy published.")
@click.pass_obj
def publish(
    settings: Settings, item: str, published_on: datetime, location: str, copy_record: str | None
) -> None:
    """Record that ITEM (e.g. contract:OPCC-2023-014) was published, when and where."""
    try:
        data = PublicationIn(
            item=item, published_on=published_on.date(), location=location, copy_record=copy_record
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with cli_services(settings) as services, session_scope(services.engine) as session:
        record_publication(
            session,
            data,
            rules=services.schedule.transparency,
            actor=CLI_ACTOR,
            clock=services.clock,
        )
    click.echo(f"{data.item}: published {data.published_on} at {data.location}")
