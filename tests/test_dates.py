"""Calendar arithmetic at both ends of the calendar: never an exception, ``None`` outside."""

from __future__ import annotations

from datetime import date

import pytest

from records_service.dates import add_days, add_months, add_period, add_years

LAST = date(9999, 12, 31)
FIRST = date(1, 1, 1)


def test_days_up_to_each_end_and_one_past() -> None:
    assert add_days(date(9999, 12, 30), 1) == LAST
    assert add_days(LAST, 1) is None
    assert add_days(date(1, 1, 2), -1) == FIRST
    assert add_days(FIRST, -1) is None
    assert add_days(LAST, 0) == LAST


@pytest.mark.parametrize("days", [10**9, 10**18, -(10**18)])
def test_days_beyond_what_timedelta_holds(days: int) -> None:
    # timedelta itself overflows past 999,999,999 days; the helper only says "outside".
    assert add_days(date(2026, 6, 15), days) is None


def test_months_clamp_the_day_and_stop_at_each_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(9999, 11, 30), 1) == date(9999, 12, 30)
    assert add_months(date(9999, 10, 31), 2) == LAST
    assert add_months(date(9999, 12, 1), 1) is None
    assert add_months(date(1, 2, 28), -1) == date(1, 1, 28)
    assert add_months(date(1, 1, 31), -1) is None
    assert add_months(date(2026, 6, 15), 10**15) is None


def test_years_clamp_29_february_and_stop_at_each_end() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(9998, 12, 31), 1) == LAST
    assert add_years(LAST, 1) is None
    assert add_years(date(9999, 1, 1), 1) is None
    assert add_years(date(2, 6, 1), -1) == date(1, 6, 1)
    assert add_years(FIRST, -1) is None


def test_a_period_adds_months_then_days() -> None:
    assert add_period(date(2023, 1, 31), years=1, months=1, days=1) == date(2024, 3, 1)
    assert add_period(date(9993, 12, 31), years=6) == LAST
    assert add_period(date(9993, 12, 31), years=6, days=1) is None
    assert add_period(LAST, years=10005) is None
