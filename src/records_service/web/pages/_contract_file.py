"""The contract page's views of its file: a completeness checklist by stage and a timeline.

The checklist applies the schedule's completeness rules through the pure
:func:`records_service.retention.evaluate_contract`; this module only arranges its
gaps, the rules and the records on file into what the page lists, stage by stage.
Each missing record is shown as a known gap, with what happened to it, when the
register explains it (:func:`records_service.retention.known_gaps.explaining`), and
as unexplained otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from records_service.contracts.models import Contract
from records_service.retention import ContractFacts, Gap, RetentionSchedule, evaluate_contract
from records_service.retention.known_gaps import describe, explaining
from records_service.retention.models import KnownGap
from records_service.retention.schedule import (
    STAGES,
    AfterEndRecordRule,
    CompletenessRule,
    QuarterlyRecordRule,
    RequiredRecordRule,
)

ItemState = Literal["on_file", "missing", "known_gap", "not_due", "not_required"]


@dataclass(frozen=True)
class FileRecord:
    """A record on the contract's file that this user may open."""

    id: str
    title: str
    record_type: str
    record_date: date


@dataclass(frozen=True)
class ChecklistItem:
    """One completeness rule's state for this contract."""

    label: str
    state: ItemState
    detail: str
    records: list[FileRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChecklistStage:
    """The rules of one lifecycle stage."""

    stage: str
    title: str
    items: list[ChecklistItem]

    @property
    def missing(self) -> int:
        """How many of the stage's items are missing with no known gap to explain them."""
        return sum(1 for item in self.items if item.state == "missing")

    @property
    def known(self) -> int:
        """How many of the stage's items are missing, every time as a known gap."""
        return sum(1 for item in self.items if item.state == "known_gap")


def stage_title(stage: str) -> str:
    """A stage key as a heading."""
    return stage.replace("_", " ").capitalize()


def build_checklist(
    contract: ContractFacts,
    records: Sequence[FileRecord],
    schedule: RetentionSchedule,
    today: date,
    known: Sequence[KnownGap] = (),
) -> list[ChecklistStage]:
    """Every completeness rule of the schedule, grouped by stage, with its state today;
    ``known`` are the contract's open known gaps."""
    gaps = evaluate_contract(contract, records, schedule.completeness, today)
    by_rule: dict[str, list[Gap]] = {}
    for gap in gaps:
        by_rule.setdefault(gap.rule_id, []).append(gap)
    stages = []
    for stage in STAGES:
        rules = [r for r in schedule.completeness if r.stage == stage]
        if rules:
            items = [
                _item(contract, records, r, by_rule.get(r.id, []), today, known) for r in rules
            ]
            stages.append(ChecklistStage(stage, stage_title(stage), items))
    return stages


def _item(
    contract: ContractFacts,
    records: Sequence[FileRecord],
    rule: CompletenessRule,
    gaps: list[Gap],
    today: date,
    known: Sequence[KnownGap],
) -> ChecklistItem:
    matching = [r for r in records if r.record_type in rule.any_of]
    if contract.status not in rule.statuses:
        return ChecklistItem(
            rule.label,
            "not_required",
            f"Not needed while the contract is {contract.status}",
            matching,
        )
    if gaps:
        explained = [explaining(g, known) for g in gaps]
        problems = [_problem(g, k) for g, k in zip(gaps, explained, strict=True)]
        if all(explained):
            return ChecklistItem(rule.label, "known_gap", "Known gap", matching, problems)
        return ChecklistItem(rule.label, "missing", "Missing", matching, problems)
    if matching:
        return ChecklistItem(rule.label, "on_file", "On file", matching)
    return ChecklistItem(rule.label, "not_due", _not_due(contract, rule, today))


def _problem(gap: Gap, known: KnownGap | None) -> str:
    why = "Unexplained."
    if known is not None:
        text = describe(known)
        why = f"{text[:1].upper()}{text[1:]}."
    if gap.kind == "overdue_return" and gap.quarter_start and gap.quarter_end:
        return (
            f"No return for {gap.quarter_start:%-d %b %Y} to {gap.quarter_end:%-d %b %Y}: "
            f"due {gap.due_date:%-d %b %Y}, {gap.days_overdue} days overdue. {why}"
        )
    if gap.due_date is not None:
        return f"Was due by {gap.due_date:%-d %b %Y}, {gap.days_overdue} days overdue. {why}"
    return f"Not on file. {why}"


def _not_due(contract: ContractFacts, rule: CompletenessRule, today: date) -> str:
    match rule:
        case RequiredRecordRule(value_over_pence=int(threshold)):
            return f"Not needed: the awarded value is not over £{threshold / 100:,.0f}"
        case AfterEndRecordRule():
            if contract.end_date is None and contract.closed_on is None:
                return f"Due within {rule.within_days} days of the end (no end date yet)"
            return f"Due within {rule.within_days} days of the end of the contract"
        case QuarterlyRecordRule():
            return "Nothing due yet"
    return "Nothing due yet"


@dataclass(frozen=True)
class VersionEvent:
    """One captured version, as the timeline lists it under its record."""

    number: int
    captured_at: datetime
    captured_by: str
    filename: str


@dataclass(frozen=True)
class TimelineEntry:
    """A dated point in the contract's life: a milestone or a record with its versions."""

    day: date
    kind: Literal["milestone", "record"]
    label: str
    title: str = ""
    record_id: str | None = None
    stage: str | None = None
    status: str = "active"
    versions: list[VersionEvent] = field(default_factory=list)


def stage_of_types(rules: Iterable[CompletenessRule]) -> dict[str, str]:
    """Each record type named by a completeness rule, mapped to that rule's stage."""
    stages: dict[str, str] = {}
    for rule in rules:
        for record_type in rule.any_of:
            stages.setdefault(record_type, rule.stage)
    return stages


def milestones(contract: Contract) -> list[TimelineEntry]:
    """The contract's own dates as timeline entries."""
    points = (
        (contract.start_date, "Contract starts"),
        (contract.end_date, "Contract ends"),
        (contract.closed_on, "Contract closed"),
    )
    return [TimelineEntry(day, "milestone", label) for day, label in points if day is not None]


def build_timeline(
    entries: Iterable[TimelineEntry],
) -> list[TimelineEntry]:
    """Entries in date order; on the same day, milestones first, then by title."""
    return sorted(entries, key=lambda e: (e.day, e.kind != "milestone", e.title.lower()))
