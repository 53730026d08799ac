"""Command-line options that several commands take alike.

``day_option`` is a ``YYYY-MM-DD`` option whose day must lie within the service's
date bounds (``records_service.bounds``), refused as a bad parameter otherwise;
the command is given it as a ``datetime`` at midnight, or None when left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from click.decorators import FC

from records_service.bounds import DATE_MAX, DATE_MIN, in_date_range

# For help texts: the form a day is written in, and the days the service accepts.
DAY_RANGE = f"YYYY-MM-DD, {DATE_MIN} to {DATE_MAX}"


def day_in_range(_ctx: click.Context, _param: click.Parameter, value: datetime | None) -> Any:
    """The option's callback: ``value`` unchanged if its day is within bounds."""
    if value is None:
        return None
    try:
        return datetime.combine(in_date_range(value.date()), value.time())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def day_option(*param_decls: str, help: str, required: bool = False) -> Callable[[FC], FC]:
    """A day option (see the module docstring), named and documented by the caller."""
    return click.option(
        *param_decls,
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        required=required,
        callback=day_in_range,
        help=help,
    )
