"""Pure completeness checks: which records a contract file is missing today.

Owns the evaluation of the schedule's completeness rules against one contract's
facts and the records on its file, and the ``Gap`` it reports. It reads no clock
and no database; the retention job turns gaps into findings (``Gap.key`` is stable
from run to run, so the job can be idempotent) and the contract page shows them as
a checklist by stage.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

from records_service.dates import add_days
from records_service.retention.policy import ContractFacts
from records_service.retention.schedule import (
    STAGES,
    AfterEndRecordRule,
    CompletenessRule,
    QuarterlyRecordRule,
    RequiredRecordRule,
    Stage,
)

GapKind = Literal["missing_record", "overdue_return"]


class DatedRecord(Protocol):
    """Anything with a record type and a record date (``RecordFacts`` qualifies)."""

    @property
    def record_type(self) -> str:
        """The record's type key."""
        ...

    @property
    def record_date(self) -> date:
        """The date the record bears."""
        ...


@dataclass(frozen=True)
class RecordSummary:
    """The least a completeness check needs to know about a record on the file."""

    record_type: str
    record_date: date


@dataclass(frozen=True)
class Gap:
    """A record the contract file should have and does not.

    ``record_types`` is an any-of group: one record of any of them closes the gap.
    Quarter fields are set for ``overdue_return``; ``due_date`` and ``days_overdue``
    for every gap with a deadline; ``days_since_end`` for gaps counted from the end.
    """

    kind: GapKind
    contract_reference: str
    rule_id: str
    stage: Stage
    label: str
    record_types: tuple[str, ...]
    quarter_start: date | None = None
    quarter_end: date | None = None
    due_date: date | None = None
    days_overdue: int | None = None
    days_since_end: int | None = None

    @property
    def key(self) -> str:
        """Identity of the gap that stays the same from day to day (for idempotent findings)."""
        base = f"{self.contract_reference}/{self.rule_id}"
        return f"{base}/{self.quarter_start}" if self.quarter_start else base

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings)."""
        dates = (self.quarter_start, self.quarter_end, self.due_date)
        start, end, due = (day.isoformat() if day else None for day in dates)
        return {
            "key": self.key,
            "kind": self.kind,
            "contract_reference": self.contract_reference,
            "rule_id": self.rule_id,
            "stage": self.stage,
            "label": self.label,
            "record_types": list(self.record_types),
            "quarter_start": start,
            "quarter_end": end,
            "due_date": due,
            "days_overdue": self.days_overdue,
            "days_since_end": self.days_since_end,
        }


def evaluate_contract(
    contract: ContractFacts,
    records: Sequence[DatedRecord],
    rules: Iterable[CompletenessRule],
    today: date,
) -> list[Gap]:
    """The gaps in ``contract``'s file on ``today``, sorted by stage, rule order, quarter.

    ``records`` are the records on the contract's file; ``rules`` normally come from
    ``RetentionSchedule.completeness``. The same inputs always give the same list.
    """
    ordered: list[tuple[int, int, date, Gap]] = []
    for position, rule in enumerate(rules):
        if contract.status not in rule.statuses:
            continue
        for gap in _gaps_for_rule(contract, records, rule, today):
            quarter = gap.quarter_start or date.min
            ordered.append((STAGES.index(gap.stage), position, quarter, gap))
    ordered.sort(key=lambda item: item[:3])
    return [gap for *_, gap in ordered]


def _gaps_for_rule(
    contract: ContractFacts, records: Sequence[DatedRecord], rule: CompletenessRule, today: date
) -> list[Gap]:
    match rule:
        case RequiredRecordRule():
            return _missing_required(contract, records, rule)
        case QuarterlyRecordRule():
            dates = [record.record_date for record in records if record.record_type in rule.any_of]
            return _overdue_quarters(contract, dates, rule, today)
        case AfterEndRecordRule():
            return _missing_after_end(contract, records, rule, today)


def _has_any(records: Sequence[DatedRecord], record_types: tuple[str, ...]) -> bool:
    return any(record.record_type in record_types for record in records)


def _missing_required(
    contract: ContractFacts, records: Sequence[DatedRecord], rule: RequiredRecordRule
) -> list[Gap]:
    threshold = rule.value_over_pence
    value = contract.awarded_value_pence
    # An unknown value is not treated as over the threshold: the rule needs evidence of it.
    if threshold is not None and (value is None or value <= threshold):
        return []
    if _has_any(records, rule.any_of):
        return []
    return [Gap("missing_record", contract.reference, rule.id, rule.stage, rule.label, rule.any_of)]


def _missing_after_end(
    contract: ContractFacts,
    records: Sequence[DatedRecord],
    rule: AfterEndRecordRule,
    today: date,
) -> list[Gap]:
    # A contract terminated early ends on the day it closed, not on its planned end date.
    ends = [day for day in (contract.end_date, contract.closed_on) if day is not None]
    if not ends:
        return []
    end = min(ends)
    due = add_days(end, rule.within_days)
    # A deadline past the end of the calendar never comes.
    if due is None or today <= due or _has_any(records, rule.any_of):
        return []
    return [
        Gap(
            "missing_record",
            contract.reference,
            rule.id,
            rule.stage,
            rule.label,
            rule.any_of,
            due_date=due,
            days_overdue=(today - due).days,
            days_since_end=(today - end).days,
        )
    ]


def quarter_containing(day: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter (Jan-Mar, Apr-Jun...) containing ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    last_month = first_month + 2
    last_day = calendar.monthrange(day.year, last_month)[1]
    return date(day.year, first_month, 1), date(day.year, last_month, last_day)


def _overdue_quarters(
    contract: ContractFacts, dates: list[date], rule: QuarterlyRecordRule, today: date
) -> list[Gap]:
    """Quarters from the start date to the end date (or today) without a return past grace.

    Each return counts for one quarter only, the earliest it can satisfy, so a late
    return for one quarter is not also taken as the next quarter's.
    """
    if contract.start_date is None:
        return []
    last_day = min(today, contract.end_date) if contract.end_date else today
    unused = sorted(dates)
    gaps = []
    start, end = quarter_containing(contract.start_date)
    while start <= last_day:
        # A deadline past the end of the calendar never comes (nor does the next quarter).
        due = add_days(end, rule.grace_days) or date.max
        match = next((day for day in unused if start <= day <= due), None)
        if match is not None:
            unused.remove(match)
        elif today > due:
            gaps.append(_overdue_gap(contract, rule, start, end, due, today))
        following = add_days(end, 1)
        if following is None:
            break
        start, end = quarter_containing(following)
    return gaps


def _overdue_gap(
    contract: ContractFacts,
    rule: QuarterlyRecordRule,
    start: date,
    end: date,
    due: date,
    today: date,
) -> Gap:
    return Gap(
        "overdue_return",
        contract.reference,
        rule.id,
        rule.stage,
        rule.label,
        rule.any_of,
        quarter_start=start,
        quarter_end=end,
        due_date=due,
        days_overdue=(today - due).days,
    )
