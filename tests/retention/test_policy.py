"""Retention dates and disposal decisions, with fixed dates and exact expectations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from records_service.retention import (
    ContractFacts,
    Decision,
    RecordFacts,
    RetentionDate,
    RetentionSchedule,
    disposal_decision,
    load_schedule,
    parse_schedule,
    retain_until,
)
from records_service.retention.policy import financial_year_end

CLOSED = ContractFacts(
    reference="OPCC-2016-007",
    status="closed",
    start_date=date(2014, 4, 1),
    end_date=date(2017, 3, 31),
    closed_on=date(2017, 5, 2),
)

CUSTOM = """\
[record_types.note]
label = "Note"
period = "1y"
trigger = "record_date"
counting = "exact"
action = "destroy"
citation = "local"

[record_types.handover]
label = "Handover"
period = "2y"
trigger = "contract_closed"
counting = "exact"
action = "destroy"
citation = "local"

[record_types.scan]
label = "Scan"
period = "30d"
trigger = "captured"
counting = "exact"
action = "destroy"
citation = "local"

[record_types.history]
label = "History file"
period = "20y"
trigger = "record_date"
counting = "exact"
action = "transfer"
citation = "Public Records Act"
"""


@pytest.fixture(scope="module")
def schedule() -> RetentionSchedule:
    return load_schedule()


@pytest.fixture(scope="module")
def custom() -> RetentionSchedule:
    return parse_schedule(CUSTOM, source="custom.toml")


def record(
    record_type: str,
    *,
    record_date: date = date(2015, 6, 1),
    contract: ContractFacts | None = CLOSED,
    **overrides: object,
) -> RecordFacts:
    facts = RecordFacts(
        record_id="r1",
        record_type=record_type,
        record_date=record_date,
        captured_on=date(2015, 6, 3),
        contract=contract,
    )
    return replace(facts, **overrides)  # type: ignore[arg-type]


def test_financial_year_end_both_sides_of_31_march() -> None:
    assert financial_year_end(date(2024, 3, 31)) == date(2024, 3, 31)
    assert financial_year_end(date(2024, 4, 1)) == date(2025, 3, 31)
    assert financial_year_end(date(2024, 1, 1)) == date(2024, 3, 31)
    assert financial_year_end(date(2023, 12, 31)) == date(2024, 3, 31)


def test_invoice_counts_from_financial_year_end(schedule: RetentionSchedule) -> None:
    on_year_end = retain_until(record("invoice", record_date=date(2024, 3, 31)), schedule)
    assert on_year_end == RetentionDate.on(
        date(2030, 3, 31),
        "6y from the end of the financial year (2024-03-31) of the record date (2024-03-31)",
    )
    next_day = retain_until(record("invoice", record_date=date(2024, 4, 1)), schedule)
    assert next_day.until == date(2031, 3, 31)
    leap_day = retain_until(record("invoice", record_date=date(2024, 2, 29)), schedule)
    assert leap_day.until == date(2030, 3, 31)


def test_exact_counting_clamps_leap_day(custom: RetentionSchedule) -> None:
    result = retain_until(record("note", record_date=date(2024, 2, 29)), custom)
    assert result == RetentionDate.on(date(2025, 2, 28), "1y from record date (2024-02-29)")


def test_captured_trigger(custom: RetentionSchedule) -> None:
    assert retain_until(record("scan"), custom).until == date(2015, 7, 3)


def test_simple_contract_six_years_deed_twelve(schedule: RetentionSchedule) -> None:
    simple = retain_until(record("contract"), schedule)
    assert simple == RetentionDate.on(date(2023, 3, 31), "6y from contract end (2017-03-31)")
    deed = retain_until(record("contract", contract=replace(CLOSED, is_deed=True)), schedule)
    assert deed == RetentionDate.on(
        date(2029, 3, 31), "12y (contract executed as a deed) from contract end (2017-03-31)"
    )


def test_deed_only_lengthens_types_with_a_deed_period(schedule: RetentionSchedule) -> None:
    deed_contract = replace(CLOSED, is_deed=True)
    assert retain_until(record("contract_variation", contract=deed_contract), schedule).until == (
        date(2029, 3, 31)
    )
    assert retain_until(record("specification", contract=deed_contract), schedule).until == (
        date(2023, 3, 31)
    )


def test_unknown_until_contract_has_an_end_date(schedule: RetentionSchedule) -> None:
    open_ended = replace(CLOSED, status="active", end_date=None, closed_on=None)
    assert retain_until(record("contract", contract=open_ended), schedule) == RetentionDate.unknown(
        "counts from contract end; contract has no end date"
    )
    assert retain_until(record("correspondence", contract=None), schedule) == (
        RetentionDate.unknown("counts from contract end; record is not linked to a contract")
    )


def test_unknown_until_contract_closed(custom: RetentionSchedule) -> None:
    active = replace(CLOSED, status="active", closed_on=None)
    assert retain_until(record("handover", contract=active), custom) == RetentionDate.unknown(
        "counts from contract closure; contract not closed yet"
    )
    closed = retain_until(record("handover"), custom)
    assert closed == RetentionDate.on(date(2019, 5, 2), "2y from contract closure (2017-05-02)")


def test_permanent_and_unknown_types(schedule: RetentionSchedule) -> None:
    assert retain_until(record("decision_record"), schedule) == RetentionDate.permanent(
        "Decision record records are kept permanently"
    )
    assert retain_until(record("memo"), schedule) == RetentionDate.unknown(
        "record type 'memo' is not in the retention schedule"
    )


# Correspondence on CLOSED is retained until 2023-03-31 (6y from 2017-03-31).
@pytest.mark.parametrize(
    ("today", "kind", "reason"),
    [
        (date(2022, 12, 30), "keep", "retained until 2023-03-31"),
        (date(2022, 12, 31), "expiring", "retention ends on 2023-03-31 (90 days)"),
        (date(2023, 3, 31), "expiring", "retention ends on 2023-03-31 (0 days)"),
        (date(2023, 4, 1), "dispose", "retention ended on 2023-03-31; the schedule says destroy"),
    ],
)
def test_expiring_window_boundaries(
    schedule: RetentionSchedule, today: date, kind: str, reason: str
) -> None:
    decision = disposal_decision(record("correspondence"), schedule, today)
    assert (decision.kind, decision.reason) == (kind, reason)
    assert decision.retain_until.until == date(2023, 3, 31)
    assert decision.action == ("destroy" if kind == "dispose" else None)
    assert decision.proposes_action is (kind == "dispose")


def test_review_rule_gives_review_due(schedule: RetentionSchedule) -> None:
    decision = disposal_decision(record("contract"), schedule, date(2024, 1, 1))
    assert decision == Decision(
        "review_due",
        RetentionDate.on(date(2023, 3, 31), "6y from contract end (2017-03-31)"),
        "retention ended on 2023-03-31; the schedule asks for review",
        "review",
    )


def test_transfer_rule_proposes_transfer(custom: RetentionSchedule) -> None:
    decision = disposal_decision(record("history", contract=None), custom, date(2035, 6, 2))
    assert (decision.kind, decision.action) == ("dispose", "transfer")


def test_open_contract_asks_for_review_not_disposal(schedule: RetentionSchedule) -> None:
    still_active = replace(CLOSED, status="active", closed_on=None)
    decision = disposal_decision(
        record("correspondence", contract=still_active), schedule, date(2024, 1, 1)
    )
    assert (decision.kind, decision.action, decision.reason) == (
        "review_due",
        "review",
        "retention ended on 2023-03-31, but contract OPCC-2016-007 is still active",
    )


def test_hold_blocks_disposal(schedule: RetentionSchedule) -> None:
    for held in (record("correspondence", on_hold=True), record("invoice", status="on_hold")):
        decision = disposal_decision(held, schedule, date(2040, 1, 1))
        assert decision.kind == "blocked_by_hold"
        assert not decision.proposes_action
        assert decision.action is None
        assert decision.retain_until.kind == "date"


def test_permanent_is_never_proposed(schedule: RetentionSchedule) -> None:
    for key in ("decision_record", "minutes"):
        for on_hold in (False, True):
            decision = disposal_decision(record(key, on_hold=on_hold), schedule, date(2999, 1, 1))
            assert decision.kind == "permanent"
            assert decision.action is None


def test_unknown_retention_keeps(schedule: RetentionSchedule) -> None:
    open_ended = replace(CLOSED, status="active", end_date=None, closed_on=None)
    decision = disposal_decision(
        record("contract", contract=open_ended), schedule, date(2999, 1, 1)
    )
    assert (decision.kind, decision.reason) == (
        "keep",
        "retention end unknown: counts from contract end; contract has no end date",
    )


def test_already_disposed_records_get_no_proposal(schedule: RetentionSchedule) -> None:
    for status in ("disposed", "transferred"):
        decision = disposal_decision(record("invoice", status=status), schedule, date(2040, 1, 1))
        assert decision.kind == "already_disposed"
        assert not decision.proposes_action


def test_decision_to_dict(schedule: RetentionSchedule) -> None:
    decision = disposal_decision(record("correspondence"), schedule, date(2023, 4, 1))
    assert decision.to_dict() == {
        "kind": "dispose",
        "action": "destroy",
        "reason": "retention ended on 2023-03-31; the schedule says destroy",
        "retain_until": {
            "kind": "date",
            "until": "2023-03-31",
            "reason": "6y from contract end (2017-03-31)",
        },
    }
