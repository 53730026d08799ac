"""The ``records-service replica`` commands: queue an archive for the replica, and see
how far copying has got.

A thin shell over :mod:`records_service.records.replica`; the copying itself is done
by the background worker (``records-service serve`` or ``records-service worker``).
"""

from __future__ import annotations

import click

from records_service.cli._services import cli_services
from records_service.db import read_scope, session_scope
from records_service.records.replica import pending_count, queue_every_record, waiting_since
from records_service.runtime.services import Services
from records_service.settings import Settings


@click.group("replica")
def replica() -> None:
    """The replica blob store (RECORDS_REPLICA__*)."""


def _require_replica(services: Services) -> None:
    if services.replica is None:
        raise click.ClickException("no replica is configured (set RECORDS_REPLICA__BACKEND)")


@replica.command("sync")
@click.pass_obj
def sync(settings: Settings) -> None:
    """Queue every record that has content for copying to the replica.

    Run once after adding a replica to a service that already holds records; the
    background worker then copies whatever the replica lacks.
    """
    with cli_services(settings) as services:
        _require_replica(services)
        with session_scope(services.engine) as session:
            count = queue_every_record(session, services.clock())
    click.echo(f"{count} records queued for the replica; the background worker copies them")


@replica.command("status")
@click.pass_obj
def status(settings: Settings) -> None:
    """How many records wait to be copied to the replica, and since when."""
    with cli_services(settings) as services:
        _require_replica(services)
        with read_scope(services.engine) as session:
            rows, waiting = pending_count(session), waiting_since(session)
    oldest = min(waiting.values()).isoformat() if waiting else "-"
    click.echo(f"records waiting: {len(waiting)} ({rows} queued rows); oldest since {oldest}")
