"""Findings in words: late quarters of one rule as one line with their ranges, any-of
groups named in words, records by their titles, missing items before late returns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from records_service.retention import load_schedule
from records_service.retention.finding_groups import finding_lines, quarter_name
from records_service.retention.models import Finding

SEEN = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
SCHEDULE = load_schedule()


def _finding(kind: str, key: str, resolved: datetime | None = None, **details: object) -> Finding:
    return Finding(
        kind=kind,
        subject="contract:OPCC-1",
        key=key,
        contract_ref="OPCC-1",
        record_id=details.pop("record_id", None),  # type: ignore[arg-type]
        summary="raw summary",
        details=json.dumps(details),
        first_seen=SEEN,
        last_seen=SEEN,
        resolved_at=resolved,
    )


def _late(start: str) -> Finding:
    return _finding(
        "overdue_return",
        f"overdue_return:OPCC-1/returns/{start}",
        rule_id="returns",
        record_types=["monitoring_return"],
        quarter_start=start,
    )


def test_quarters_in_runs_and_missing_items_first() -> None:
    findings = [
        _late("2024-01-01"),
        _late("2024-04-01"),
        _late("2024-07-01"),
        _late("2025-01-01"),
        _finding(
            "missing_record",
            "missing_record:OPCC-1/contract",
            stage="agreement",
            record_types=["contract", "grant_agreement"],
        ),
        _finding(
            "missing_record",
            "missing_record:OPCC-1/closure",
            stage="closure",
            record_types=["closure_report"],
            due_date="2025-03-31",
            days_overdue=20,
        ),
        _finding(
            "review_due",
            "review_due:r1",
            record_id="a" * 32,
            retain_until="2026-03-31",
            action="review",
        ),
    ]
    lines = finding_lines(findings, SCHEDULE, {"a" * 32: "Board minutes May"})
    assert [line.text for line in lines] == [
        "Contract or grant agreement missing",
        "Closure report missing: due by 31 March 2025, 20 days overdue",
        "4 quarterly monitoring returns overdue (Q1 2024 to Q3 2024, Q1 2025)",
        "Board minutes May: due for review (kept until 31 March 2026)",
    ]
    assert [line.upload_type for line in lines] == [
        "contract", "closure_report", "monitoring_return", None,
    ]  # fmt: skip


def test_one_late_quarter_and_resolved_quarters_apart() -> None:
    done = _late("2023-10-01")
    done.resolved_at = SEEN
    lines = finding_lines([_late("2024-01-01"), done], SCHEDULE, {})
    assert [(line.text, line.resolved_at) for line in lines] == [
        ("1 quarterly monitoring return overdue (Q1 2024)", None),
        ("1 quarterly monitoring return overdue (Q4 2023)", SEEN),
    ]
    assert quarter_name(date(2024, 12, 31)) == "Q4 2024"
