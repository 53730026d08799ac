"""Retention dates, decisions and completeness at the ends of the calendar (pure, no database).

A contract or record dated 9999-12-31 or 0001-01-01 (legacy data) must never make a
computation fail, and must never lead to a disposal: retention that would end
after the calendar means "keep".
"""

from __future__ import annotations

from datetime import date

from records_service.retention import (
    ContractFacts,
    RecordFacts,
    disposal_decision,
    evaluate_contract,
    load_schedule,
    retain_until,
)
from records_service.retention.completeness import quarter_containing
from records_service.retention.object_lock import lock_instant
from records_service.retention.policy import (
    contract_problems,
    date_problem,
    financial_year_end,
    record_problems,
)
from records_service.retention.schedule import Duration

LAST = date(9999, 12, 31)
FIRST = date(1, 1, 1)
TODAY = date(2026, 6, 15)
SCHEDULE = load_schedule()


def _contract(**dates: date | None) -> ContractFacts:
    fields: dict[str, date | None] = {"start_date": date(2020, 4, 1), "end_date": None}
    fields.update(dates)
    return ContractFacts(
        reference="OPCC-LEGACY",
        status="closed",
        start_date=fields["start_date"],
        end_date=fields["end_date"],
        closed_on=fields.get("closed_on"),
    )


def _record(record_type: str, day: date, contract: ContractFacts | None = None) -> RecordFacts:
    return RecordFacts("r1", record_type, day, TODAY, contract)


def test_periods_and_financial_years_past_the_calendar_are_none() -> None:
    assert Duration(years=6).add_to(date(9993, 12, 31)) == LAST
    assert Duration(years=6).add_to(date(9994, 1, 1)) is None
    assert Duration(days=1).add_to(LAST) is None
    assert financial_year_end(date(9999, 3, 31)) == date(9999, 3, 31)
    assert financial_year_end(date(9999, 4, 1)) is None
    assert financial_year_end(FIRST) == date(1, 3, 31)


def test_quarters_and_lock_instants_at_the_last_day() -> None:
    assert quarter_containing(LAST) == (date(9999, 10, 1), LAST)
    assert quarter_containing(FIRST) == (FIRST, date(1, 3, 31))
    assert lock_instant(LAST).date() == LAST  # the last instant of the calendar, no overflow


def test_a_record_counted_from_a_contract_ending_9999_is_kept() -> None:
    contract = _contract(end_date=LAST)
    until = retain_until(_record("contract", date(2020, 4, 1), contract), SCHEDULE)
    assert until.kind == "unknown" and until.until is None
    assert "9999-12-31" in until.reason
    decision = disposal_decision(_record("contract", date(2020, 4, 1), contract), SCHEDULE, LAST)
    assert decision.kind == "keep"


def test_a_record_counted_from_year_one_is_kept_not_disposed() -> None:
    ancient = _record("invoice", FIRST)
    decision = disposal_decision(ancient, SCHEDULE, TODAY)
    assert decision.kind == "keep" and decision.action is None
    assert "0001-01-01 is before 1900-01-01" in decision.reason
    from_contract = _record("contract", TODAY, _contract(start_date=None, end_date=FIRST))
    assert disposal_decision(from_contract, SCHEDULE, TODAY).kind == "keep"


def test_a_record_dated_9999_is_kept_and_reported() -> None:
    late = _record("invoice", LAST)
    assert disposal_decision(late, SCHEDULE, TODAY).kind == "keep"
    [problem] = record_problems(late, SCHEDULE)
    assert problem.startswith("record date 9999-12-31 is after ")
    assert "would run past 9999-12-31, the last day of the calendar" in problem
    assert record_problems(_record("invoice", TODAY), SCHEDULE) == []


def test_the_last_countable_day_leaves_room_for_every_period() -> None:
    last = SCHEDULE.last_countable_day
    assert date(2199, 12, 31) < last < LAST
    assert date_problem("end date", last, SCHEDULE) is None
    assert date_problem("end date", None, SCHEDULE) is None
    for rule in SCHEDULE.record_types.values():
        if rule.term is not None:
            fy_end = financial_year_end(last)
            assert fy_end is not None and rule.term.period.add_to(fy_end) is not None


def test_contract_problems_name_each_bad_date() -> None:
    legacy = _contract(start_date=FIRST, end_date=LAST, closed_on=LAST)
    problems = contract_problems(legacy, SCHEDULE)
    assert [p.split(" is ")[0] for p in problems] == [
        "start date 0001-01-01",
        "end date 9999-12-31",
        "closure date 9999-12-31",
    ]
    assert contract_problems(_contract(), SCHEDULE) == []


def test_completeness_at_the_ends_of_the_calendar_does_not_fail() -> None:
    rules = SCHEDULE.completeness
    closed = _contract(end_date=LAST, closed_on=LAST)
    # Closure report due 90 days after 9999-12-31: never, so not missing even on the last day.
    gaps = evaluate_contract(closed, [], rules, LAST)
    assert all(gap.rule_id != "closure_report" for gap in gaps)
    active = ContractFacts("OPCC-LEGACY", "active", date(9999, 1, 1), None)
    quarters = [g for g in evaluate_contract(active, [], rules, LAST) if g.kind == "overdue_return"]
    # Q1 to Q3 of 9999 are overdue; Q4's grace runs past the calendar, so it never is.
    assert [g.quarter_start for g in quarters] == [
        date(9999, 1, 1),
        date(9999, 4, 1),
        date(9999, 7, 1),
    ]
