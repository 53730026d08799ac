"""``records-service gaps``: the register of records known to be missing from a contract.

Recording and closing a gap is done in the name of a records manager (``--by``), who
is audited as its author, as on the API and the web page.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from pydantic import ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.auth.service import get_user
from records_service.cli._services import cli_services
from records_service.db import read_scope, session_scope
from records_service.errors import PermissionDenied
from records_service.retention.known_gaps import (
    GapState,
    close_gap,
    list_gaps,
    reason_label,
    record_gap,
)
from records_service.retention.models import GapReason
from records_service.retention.schemas import GapClose, GapCreate, GapPublic
from records_service.settings import Settings


@click.group()
def gaps() -> None:
    """Record, list and close known gaps in contract files."""


def _day(_ctx: click.Context, _param: click.Parameter, value: datetime) -> date:
    return value.date()


def _manager(session: Session, username: str) -> User:
    """The user a change is made in the name of: active, allowed to manage retention."""
    user = get_user(session, username)
    if user.disabled or not allows(user.role_set, Permission.MANAGE_RETENTION):
        raise PermissionDenied(f"{username} may not record or close known gaps")
    return user


def _line(gap: GapPublic) -> str:
    state = "open"
    if gap.closed_at:
        state = f"closed {gap.closed_at:%Y-%m-%d}, found {gap.found_record}"
    return (
        f"{gap.id}\t{gap.record_type}\t{gap.period_start} to {gap.period_end}\t"
        f"{reason_label(gap.reason)}\t{state}\treported by {gap.reported_by}"
    )


_DATE = click.DateTime(["%Y-%m-%d"])


@gaps.command("add")
@click.argument("contract")
@click.option("--record-type", required=True, help="The record type that is missing.")
@click.option(
    "--from",
    "period_start",
    type=_DATE,
    callback=_day,
    required=True,
    help="First day of the period the record covered (YYYY-MM-DD).",
)
@click.option(
    "--to",
    "period_end",
    type=_DATE,
    callback=_day,
    required=True,
    help="Last day of that period (YYYY-MM-DD).",
)
@click.option(
    "--reason",
    type=click.Choice([r.value for r in GapReason]),
    required=True,
    help="What happened to the record.",
)
@click.option("--evidence", required=True, help="What shows the record existed, and why.")
@click.option("--reported-by", required=True, help="Who reported the gap.")
@click.option("--by", "username", required=True, help="The records manager recording it.")
@click.pass_obj
def add(
    settings: Settings,
    contract: str,
    record_type: str,
    period_start: date,
    period_end: date,
    reason: str,
    evidence: str,
    reported_by: str,
    username: str,
) -> None:
    """Record a known gap in CONTRACT's file."""
    fields = {
        "record_type": record_type,
        "period_start": period_start,
        "period_end": period_end,
        "reason": reason,
        "evidence": evidence,
        "reported_by": reported_by,
    }
    try:
        data = GapCreate.model_validate(fields)
    except ValidationError as exc:
        raise click.BadParameter(_first_error(exc)) from None
    with cli_services(settings) as services, session_scope(services.engine) as session:
        gap = record_gap(
            session,
            reference=contract,
            data=data,
            record_types=services.record_types,
            actor=_manager(session, username),
            clock=services.clock,
        )
    click.echo(f"recorded known gap {gap.id} in {contract}")


@gaps.command("list")
@click.argument("contract")
@click.option(
    "--state", type=click.Choice(["open", "closed", "all"]), default="all", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one gap each.")
@click.pass_obj
def list_(settings: Settings, contract: str, state: str, as_json: bool) -> None:
    """List CONTRACT's known gaps, by period."""
    wanted: GapState = "open" if state == "open" else "closed" if state == "closed" else "all"
    with cli_services(settings) as services, read_scope(services.engine) as session:
        rows, _ = list_gaps(session, reference=contract, state=wanted)
    for gap in rows:
        click.echo(gap.model_dump_json() if as_json else _line(gap))


@gaps.command("close")
@click.argument("contract")
@click.argument("gap_id", type=click.IntRange(1, 2**31 - 1))
@click.option(
    "--record",
    "found_record",
    required=True,
    help="Id of the record found for the gap, on the same contract's file.",
)
@click.option("--note", default=None, help="Where it was found, or anything else to keep.")
@click.option("--by", "username", required=True, help="The records manager closing it.")
@click.pass_obj
def close(
    settings: Settings,
    contract: str,
    gap_id: int,
    found_record: str,
    note: str | None,
    username: str,
) -> None:
    """Close known gap GAP_ID of CONTRACT with the record found for it."""
    try:
        data = GapClose(found_record=found_record, note=note)
    except ValidationError as exc:
        raise click.BadParameter(_first_error(exc)) from None
    with cli_services(settings) as services, session_scope(services.engine) as session:
        close_gap(
            session,
            reference=contract,
            gap_id=gap_id,
            data=data,
            actor=_manager(session, username),
            clock=services.clock,
        )
    click.echo(f"closed known gap {gap_id} in {contract} with record {found_record}")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "input"
    return f"{where}: {error['msg']}"
