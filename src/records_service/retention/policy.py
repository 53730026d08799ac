"""Pure retention policy: how long a record is kept and what is due for it today.

Owns the facts a decision needs (``ContractFacts``, ``RecordFacts``), the date
arithmetic (calendar periods, financial-year counting) and the decision itself. It
reads no clock and no database: callers pass the facts, the schedule and ``today``,
and apply the decision (the retention job writes findings and proposes disposals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from records_service.dates import add_years
from records_service.records.capture import EARLIEST_RECORD_DATE
from records_service.records.models import DISPOSED_STATUSES
from records_service.retention.schedule import (
    Action,
    RecordTypeRule,
    RetentionSchedule,
    RetentionTerm,
    Trigger,
)

RetentionKind = Literal["date", "permanent", "unknown"]
DecisionKind = Literal[
    "keep", "expiring", "review_due", "dispose", "blocked_by_hold", "permanent", "already_disposed"
]
# Contract statuses after which the contract's dates can no longer move.
FINISHED_STATUSES = frozenset({"closed", "terminated"})

_TRIGGER_NAMES: dict[Trigger, str] = {
    "record_date": "record date",
    "captured": "capture date",
    "contract_end": "contract end",
    "contract_closed": "contract closure",
}


@dataclass(frozen=True)
class ContractFacts:
    """What policy needs to know about a contract (money in integer pence)."""

    reference: str
    status: str
    start_date: date | None
    end_date: date | None
    closed_on: date | None = None
    is_deed: bool = False
    awarded_value_pence: int | None = None


@dataclass(frozen=True)
class RecordFacts:
    """What policy needs to know about a record; ``on_hold`` covers holds on its contract."""

    record_id: str
    record_type: str
    record_date: date
    captured_on: date
    contract: ContractFacts | None = None
    on_hold: bool = False
    status: str = "active"


@dataclass(frozen=True)
class RetentionDate:
    """When a record's retention ends: a date (inclusive), ``permanent`` or ``unknown``.

    ``reason`` explains the result in words a records manager can quote.
    """

    kind: RetentionKind
    until: date | None
    reason: str

    @classmethod
    def on(cls, until: date, reason: str) -> RetentionDate:
        """Retention ends at the end of ``until``."""
        return cls("date", until, reason)

    @classmethod
    def permanent(cls, reason: str) -> RetentionDate:
        """The record is kept permanently."""
        return cls("permanent", None, reason)

    @classmethod
    def unknown(cls, reason: str) -> RetentionDate:
        """The end cannot be computed yet (the record is kept meanwhile)."""
        return cls("unknown", None, reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        until = self.until.isoformat() if self.until else None
        return {"kind": self.kind, "until": until, "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    """What is due for one record today; ``action`` is set for ``review_due`` and ``dispose``."""

    kind: DecisionKind
    retain_until: RetentionDate
    reason: str
    action: Action | None = None

    @property
    def proposes_action(self) -> bool:
        """Whether a records manager must act (review, or approve a disposal)."""
        return self.kind in ("review_due", "dispose")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "action": self.action,
            "reason": self.reason,
            "retain_until": self.retain_until.to_dict(),
        }


def financial_year_end(day: date) -> date | None:
    """The 31 March that ends the UK financial year containing ``day``.

    ``None`` for a day after 31 March 9999: that year ends beyond the calendar.
    """
    march = date(day.year, 3, 31)
    return march if day <= march else add_years(march, 1)


def date_problem(what: str, day: date | None, schedule: RetentionSchedule) -> str | None:
    """Why retention cannot count from ``day`` (``what`` names it), in plain words; else None.

    Before the earliest date a record may bear, a period or a quarter counted from the
    date is meaningless (and no record could ever fill those quarters); after the
    schedule's last countable day, its periods would run past the end of the calendar.
    """
    if day is None:
        return None
    if day < EARLIEST_RECORD_DATE:
        return f"{what} {day} is before {EARLIEST_RECORD_DATE}, the earliest date a record can bear"
    last = schedule.last_countable_day
    if day > last:
        return (
            f"{what} {day} is after {last}: retention periods counted from it "
            f"would run past {date.max}, the last day of the calendar"
        )
    return None


def contract_problems(contract: ContractFacts, schedule: RetentionSchedule) -> list[str]:
    """What is wrong with a contract's dates for retention (empty if nothing)."""
    dates = (
        ("start date", contract.start_date),
        ("end date", contract.end_date),
        ("closure date", contract.closed_on),
    )
    found = (date_problem(what, day, schedule) for what, day in dates)
    return [problem for problem in found if problem]


def record_problems(record: RecordFacts, schedule: RetentionSchedule) -> list[str]:
    """What is wrong with a record's own dates for retention (empty if nothing)."""
    last = schedule.last_countable_day
    # The job asks this of every record: the usual answer takes four comparisons.
    first = EARLIEST_RECORD_DATE
    if first <= record.record_date <= last and first <= record.captured_on <= last:
        return []
    dates = (("record date", record.record_date), ("capture date", record.captured_on))
    found = (date_problem(what, day, schedule) for what, day in dates)
    return [problem for problem in found if problem]


def retain_until(record: RecordFacts, schedule: RetentionSchedule) -> RetentionDate:
    """When ``record``'s retention ends under ``schedule``.

    A record type missing from the schedule, or a trigger that has not happened
    yet (no contract end date, contract not closed), gives ``unknown``.
    """
    rule = schedule.record_types.get(record.record_type)
    if rule is None:
        return RetentionDate.unknown(
            f"record type {record.record_type!r} is not in the retention schedule"
        )
    if rule.term is None:
        return RetentionDate.permanent(f"{rule.label} records are kept permanently")
    term = rule.term
    trigger = _trigger_date(record, term.trigger)
    if isinstance(trigger, str):
        return RetentionDate.unknown(trigger)
    if not EARLIEST_RECORD_DATE <= trigger <= schedule.last_countable_day:
        # A period counted from a date that cannot be right would dispose on a guess.
        problem = date_problem(_TRIGGER_NAMES[term.trigger], trigger, schedule)
        return RetentionDate.unknown(f"cannot count from it: {problem}")
    deed = term.deed_period is not None and record.contract is not None and record.contract.is_deed
    return _counted_from(term, trigger, deed)


# The retention job evaluates every record: the records on one contract's file mostly
# share a term and a trigger date, so the date arithmetic and wording are done once.
@lru_cache(maxsize=65536)
def _counted_from(term: RetentionTerm, trigger: date, deed: bool) -> RetentionDate:
    """The retention end of a ``term`` whose trigger fell on ``trigger``."""
    period, deed_note = term.period, ""
    if deed and term.deed_period is not None:
        period, deed_note = term.deed_period, " (contract executed as a deed)"
    trigger_name = _TRIGGER_NAMES[term.trigger]
    start: date | None = trigger
    basis = f"{trigger_name} ({trigger})"
    if term.counting == "financial_year_end":
        start = financial_year_end(trigger)
        basis = f"the end of the financial year ({start}) of the {trigger_name} ({trigger})"
    until = period.add_to(start) if start is not None else None
    if until is None:
        # Past the end of the calendar means never: the record is kept.
        return RetentionDate.unknown(
            f"{period}{deed_note} from {basis} ends after {date.max}, the end of the calendar"
        )
    return RetentionDate.on(until, f"{period}{deed_note} from {basis}")


def _trigger_date(record: RecordFacts, trigger: Trigger) -> date | str:
    """The trigger's date, or the reason it is not known yet."""
    match trigger:
        case "record_date":
            return record.record_date
        case "captured":
            return record.captured_on
    contract = record.contract
    if contract is None:
        return f"counts from {_TRIGGER_NAMES[trigger]}; record is not linked to a contract"
    if trigger == "contract_end":
        if contract.end_date is None:
            return "counts from contract end; contract has no end date"
        return contract.end_date
    if contract.closed_on is None:
        return "counts from contract closure; contract not closed yet"
    return contract.closed_on


def disposal_decision(record: RecordFacts, schedule: RetentionSchedule, today: date) -> Decision:
    """What is due for ``record`` on ``today``.

    Nothing is ever proposed for a permanent record or a held one. Retention runs to
    the end of the ``retain_until`` day; within ``expiring_window_days`` of it the
    record is ``expiring``; after it, a ``review`` rule gives ``review_due`` and a
    ``destroy``/``transfer`` rule gives ``dispose``.
    """
    until = retain_until(record, schedule)
    if record.status in DISPOSED_STATUSES:
        return Decision("already_disposed", until, f"record status is {record.status}")
    if until.kind == "permanent":
        return Decision("permanent", until, until.reason)
    if record.on_hold or record.status == "on_hold":
        return Decision("blocked_by_hold", until, "a hold blocks disposal until it is released")
    if until.until is None:
        return Decision("keep", until, f"retention end unknown: {until.reason}")
    if today > until.until:
        return _due(record, schedule.rule_for(record.record_type), until)
    return _before_end(until, today, schedule.expiring_window_days)


@lru_cache(maxsize=65536)
def _before_end(until: RetentionDate, today: date, window_days: int) -> Decision:
    """``keep`` or ``expiring`` for a retention that ends on or after ``today``."""
    assert until.until is not None
    days_left = (until.until - today).days
    if days_left <= window_days:
        return Decision("expiring", until, f"retention ends on {until.until} ({days_left} days)")
    return Decision("keep", until, f"retained until {until.until}")


def _due(record: RecordFacts, rule: RecordTypeRule, until: RetentionDate) -> Decision:
    """The decision once retention has run out."""
    ended = f"retention ended on {until.until}"
    if rule.action == "review":
        return Decision("review_due", until, f"{ended}; the schedule asks for review", "review")
    contract = record.contract
    if (
        rule.term is not None
        and rule.term.trigger == "contract_end"
        and contract is not None
        and contract.status not in FINISHED_STATUSES
    ):
        # An open contract's end date can still move (extension), so a person looks first.
        return Decision(
            "review_due",
            until,
            f"{ended}, but contract {contract.reference} is still {contract.status}",
            "review",
        )
    return Decision("dispose", until, f"{ended}; the schedule says {rule.action}", rule.action)
