"""Completeness of a contract file against the shipped rules, with fixed dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from records_service.retention import (
    ContractFacts,
    Gap,
    RecordFacts,
    RecordSummary,
    evaluate_contract,
    load_schedule,
)
from records_service.retention.completeness import quarter_containing
from records_service.retention.schedule import CompletenessRule

REF = "OPCC-2024-001"
ACTIVE = ContractFacts(
    reference=REF,
    status="active",
    start_date=date(2024, 1, 15),
    end_date=date(2025, 12, 31),
    awarded_value_pence=2_500_000,
)
FILE_AT_AWARD = [
    RecordSummary("needs_assessment", date(2023, 9, 1)),
    RecordSummary("specification", date(2023, 10, 1)),
    RecordSummary("invitation_to_tender", date(2023, 10, 20)),
    RecordSummary("decision_record", date(2023, 12, 1)),
    RecordSummary("contract", date(2024, 1, 10)),
]
RETURNS = [
    RecordSummary("monitoring_return", date(2024, 4, 10)),
    RecordSummary("monitoring_return", date(2024, 7, 20)),
    RecordSummary("monitoring_return", date(2024, 10, 5)),
]
NEEDS_ASSESSMENT_GAP = Gap(
    "missing_record",
    REF,
    "needs_assessment",
    "need",
    "Needs assessment on file",
    ("needs_assessment",),
)


@pytest.fixture(scope="module")
def rules() -> tuple[CompletenessRule, ...]:
    return load_schedule().completeness


def without(record_type: str) -> list[RecordSummary]:
    return [item for item in FILE_AT_AWARD if item.record_type != record_type]


def test_complete_active_contract_has_no_gaps(rules: tuple[CompletenessRule, ...]) -> None:
    assert evaluate_contract(ACTIVE, FILE_AT_AWARD + RETURNS, rules, date(2024, 11, 15)) == []


def test_missing_needs_assessment(rules: tuple[CompletenessRule, ...]) -> None:
    gaps = evaluate_contract(
        ACTIVE, without("needs_assessment") + RETURNS, rules, date(2024, 11, 15)
    )
    assert gaps == [NEEDS_ASSESSMENT_GAP]
    assert gaps[0].key == "OPCC-2024-001/needs_assessment"


def test_planned_contract_needs_nothing_yet(rules: tuple[CompletenessRule, ...]) -> None:
    planned = replace(ACTIVE, status="planned")
    assert evaluate_contract(planned, [], rules, date(2024, 11, 15)) == []


def test_grant_agreement_satisfies_the_agreement_stage(rules: tuple[CompletenessRule, ...]) -> None:
    records = [*without("contract"), RecordSummary("grant_agreement", date(2024, 1, 9)), *RETURNS]
    assert evaluate_contract(ACTIVE, records, rules, date(2024, 11, 15)) == []
    gaps = evaluate_contract(ACTIVE, without("contract") + RETURNS, rules, date(2024, 11, 15))
    assert [(gap.stage, gap.record_types) for gap in gaps] == [
        ("agreement", ("contract", "grant_agreement"))
    ]


@pytest.mark.parametrize(
    ("value", "expect_gap"),
    [(1_000_001, True), (1_000_000, False), (999_999, False), (None, False)],
)
def test_competition_needed_only_over_ten_thousand_pounds(
    rules: tuple[CompletenessRule, ...], value: int | None, expect_gap: bool
) -> None:
    contract = replace(ACTIVE, awarded_value_pence=value)
    records = without("invitation_to_tender") + RETURNS
    gaps = evaluate_contract(contract, records, rules, date(2024, 11, 15))
    expected = Gap(
        "missing_record",
        REF,
        "competition_or_justification",
        "design",
        "Invitation to tender, or a justification for direct award, for a contract over £10,000",
        ("invitation_to_tender", "direct_award_justification"),
    )
    assert gaps == ([expected] if expect_gap else [])


def test_direct_award_justification_satisfies_competition(
    rules: tuple[CompletenessRule, ...],
) -> None:
    records = [
        *without("invitation_to_tender"),
        RecordSummary("direct_award_justification", date(2023, 11, 1)),
        *RETURNS,
    ]
    assert evaluate_contract(ACTIVE, records, rules, date(2024, 11, 15)) == []


def test_overdue_monitoring_return(rules: tuple[CompletenessRule, ...]) -> None:
    records = [*FILE_AT_AWARD, RETURNS[0]]
    # Q2 (Apr-Jun) was due on 30 July; Q3 is not yet due on 15 August.
    gaps = evaluate_contract(ACTIVE, records, rules, date(2024, 8, 15))
    assert gaps == [
        Gap(
            "overdue_return",
            REF,
            "quarterly_monitoring",
            "delivery",
            "A monitoring return for every quarter of delivery",
            ("monitoring_return",),
            quarter_start=date(2024, 4, 1),
            quarter_end=date(2024, 6, 30),
            due_date=date(2024, 7, 30),
            days_overdue=16,
        )
    ]
    assert gaps[0].key == "OPCC-2024-001/quarterly_monitoring/2024-04-01"
    assert evaluate_contract(ACTIVE, records, rules, date(2024, 7, 30)) == []


def test_one_return_covers_one_quarter_only(rules: tuple[CompletenessRule, ...]) -> None:
    # 15 April is in Q1's grace period and also inside Q2: it may count once.
    returns = [
        RecordSummary("monitoring_return", date(2024, 4, 15)),
        RecordSummary("monitoring_return", date(2024, 10, 20)),
    ]
    gaps = evaluate_contract(ACTIVE, FILE_AT_AWARD + returns, rules, date(2024, 11, 1))
    assert [(gap.quarter_start, gap.days_overdue) for gap in gaps] == [(date(2024, 4, 1), 94)]


def test_quarters_stop_at_the_end_date(rules: tuple[CompletenessRule, ...]) -> None:
    # Still marked active long after its end date: quarters up to the end, then closure.
    lapsed = replace(ACTIVE, end_date=date(2024, 5, 31))
    gaps = evaluate_contract(lapsed, FILE_AT_AWARD, rules, date(2025, 1, 1))
    assert [(g.kind, g.stage, g.quarter_start, g.due_date, g.days_overdue) for g in gaps] == [
        ("overdue_return", "delivery", date(2024, 1, 1), date(2024, 4, 30), 246),
        ("overdue_return", "delivery", date(2024, 4, 1), date(2024, 7, 30), 155),
        ("missing_record", "closure", None, date(2024, 8, 29), 125),
    ]
    assert gaps[2].days_since_end == 215


def test_closed_contract_without_closure_report(rules: tuple[CompletenessRule, ...]) -> None:
    closed = ContractFacts(
        reference="OPCC-2023-014",
        status="closed",
        start_date=date(2023, 4, 1),
        end_date=date(2024, 3, 31),
        closed_on=date(2024, 4, 20),
        awarded_value_pence=800_000,
    )
    gaps = evaluate_contract(closed, FILE_AT_AWARD, rules, date(2024, 7, 15))
    assert gaps == [
        Gap(
            "missing_record",
            "OPCC-2023-014",
            "closure_report",
            "closure",
            "Closure report within 90 days of the end of the contract",
            ("closure_report",),
            due_date=date(2024, 6, 29),
            days_overdue=16,
            days_since_end=106,
        )
    ]
    assert evaluate_contract(closed, FILE_AT_AWARD, rules, date(2024, 6, 29)) == []
    reported = [*FILE_AT_AWARD, RecordSummary("closure_report", date(2024, 8, 1))]
    assert evaluate_contract(closed, reported, rules, date(2024, 9, 1)) == []


def test_terminated_contract_counts_from_its_closure(rules: tuple[CompletenessRule, ...]) -> None:
    terminated = replace(
        ACTIVE, status="terminated", end_date=date(2025, 12, 31), closed_on=date(2024, 3, 31)
    )
    gaps = evaluate_contract(terminated, FILE_AT_AWARD, rules, date(2024, 7, 15))
    assert [(gap.rule_id, gap.due_date, gap.days_since_end) for gap in gaps] == [
        ("closure_report", date(2024, 6, 29), 106)
    ]


def test_record_facts_are_accepted_and_order_is_stable(
    rules: tuple[CompletenessRule, ...],
) -> None:
    facts = [
        RecordFacts(f"r{n}", item.record_type, item.record_date, item.record_date, ACTIVE)
        for n, item in enumerate(FILE_AT_AWARD)
        if item.record_type not in ("needs_assessment", "contract")
    ]
    today = date(2024, 11, 15)
    gaps = evaluate_contract(ACTIVE, facts, rules, today)
    assert [gap.key for gap in gaps] == [
        "OPCC-2024-001/needs_assessment",
        "OPCC-2024-001/signed_agreement",
        "OPCC-2024-001/quarterly_monitoring/2024-01-01",
        "OPCC-2024-001/quarterly_monitoring/2024-04-01",
        "OPCC-2024-001/quarterly_monitoring/2024-07-01",
    ]
    assert evaluate_contract(ACTIVE, list(reversed(facts)), rules, today) == gaps
    assert gaps[0].to_dict() == {
        "key": "OPCC-2024-001/needs_assessment",
        "kind": "missing_record",
        "contract_reference": REF,
        "rule_id": "needs_assessment",
        "stage": "need",
        "label": "Needs assessment on file",
        "record_types": ["needs_assessment"],
        "quarter_start": None,
        "quarter_end": None,
        "due_date": None,
        "days_overdue": None,
        "days_since_end": None,
    }


def test_quarter_containing() -> None:
    assert quarter_containing(date(2024, 1, 15)) == (date(2024, 1, 1), date(2024, 3, 31))
    assert quarter_containing(date(2024, 6, 30)) == (date(2024, 4, 1), date(2024, 6, 30))
    assert quarter_containing(date(2024, 12, 31)) == (date(2024, 10, 1), date(2024, 12, 31))
