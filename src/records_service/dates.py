"""Calendar arithmetic that never overflows: adding days, months and years to a date.

Python's dates run from 0001-01-01 to 9999-12-31, and stepping past either end
raises (``year 10000 is out of range``). Every place that counts a period from a
date goes through these helpers instead, so one date near an end of the calendar
cannot fail a whole computation. A result outside the calendar is ``None``: for
forward counting (retention periods, deadlines) that means "never", which is the
safe reading for retention (a record whose retention would end after 9999-12-31
is kept, never disposed of).
"""

from __future__ import annotations

import calendar
from datetime import date

_FIRST_MONTH = date.min.year * 12  # month index of January of year 1
_LAST_MONTH = date.max.year * 12 + 11  # month index of December 9999


def add_days(day: date, days: int) -> date | None:
    """``day`` plus ``days`` (which may be negative); ``None`` if outside the calendar."""
    # Checked by ordinal first: timedelta itself refuses more than 999,999,999 days.
    ordinal = day.toordinal() + days
    if not date.min.toordinal() <= ordinal <= date.max.toordinal():
        return None
    return date.fromordinal(ordinal)


def add_months(day: date, months: int) -> date | None:
    """``day`` plus ``months``; a missing day clamps (31 Jan + 1 month = 28 or 29 Feb).

    ``None`` if the month falls outside the calendar.
    """
    index = day.year * 12 + day.month - 1 + months
    if not _FIRST_MONTH <= index <= _LAST_MONTH:
        return None
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def add_years(day: date, years: int) -> date | None:
    """``day`` plus ``years``; 29 Feb clamps to 28 Feb; ``None`` if outside the calendar."""
    return add_months(day, 12 * years)


def add_period(day: date, *, years: int = 0, months: int = 0, days: int = 0) -> date | None:
    """``day`` plus years and months (clamping the day), then days; ``None`` if outside."""
    moved = add_months(day, 12 * years + months)
    return None if moved is None else add_days(moved, days)
