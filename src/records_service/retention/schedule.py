"""The retention schedule and completeness rules: their data model, and loading them from TOML.

Owns the schedule file format, its validation (errors name the file, line, table and
key) and the shipped UK default. Deciding what a rule means for one record or one
contract is left to :mod:`records_service.retention.policy` and
:mod:`records_service.retention.completeness`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from records_service.bounds import MAX_PENCE
from records_service.dates import add_days, add_period
from records_service.finance.reconcile import Thresholds
from records_service.transparency.register import RegisterRules

Trigger = Literal["record_date", "captured", "contract_end", "contract_closed"]
Counting = Literal["exact", "financial_year_end"]
Action = Literal["review", "destroy", "transfer"]
Stage = Literal["need", "design", "procurement", "agreement", "delivery", "closure"]
RuleKind = Literal["required", "quarterly", "after_end"]

TRIGGERS: tuple[Trigger, ...] = ("record_date", "captured", "contract_end", "contract_closed")
COUNTINGS: tuple[Counting, ...] = ("exact", "financial_year_end")
ACTIONS: tuple[Action, ...] = ("review", "destroy", "transfer")
STAGES: tuple[Stage, ...] = ("need", "design", "procurement", "agreement", "delivery", "closure")
RULE_KINDS: tuple[RuleKind, ...] = ("required", "quarterly", "after_end")
CONTRACT_STATUSES = ("planned", "tendering", "awarded", "active", "closed", "terminated")

DEFAULT_SCHEDULE_FILE = "default_schedule.toml"
DEFAULT_EXPIRING_WINDOW_DAYS = 90
# Longer than any real schedule; beyond it the intent is "permanent", and it keeps dates < 9999.
MAX_PERIOD_YEARS = 200
_QUARTER_DAYS = 92  # the longest calendar quarter
_RECORD_TYPE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PERIOD = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?$")

_T = TypeVar("_T", bound=str)


class ScheduleError(ValueError):
    """A schedule file that cannot be used; the message names file, line, table and key."""

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        line: int | None = None,
        table: str | None = None,
        key: str | None = None,
    ) -> None:
        self.source = source
        self.problem = problem
        self.line = line
        self.table = table
        self.key = key
        where = source if line is None else f"{source}, line {line}"
        subject = " ".join(part for part in (f"[{table}]" if table else "", key or "") if part)
        super().__init__(f"{where}: {subject}: {problem}" if subject else f"{where}: {problem}")


class UnknownRecordType(LookupError):
    """A record type that the schedule does not define."""

    def __init__(self, record_type: str) -> None:
        super().__init__(f"record type {record_type!r} is not in the retention schedule")
        self.record_type = record_type


@dataclass(frozen=True)
class Duration:
    """A calendar duration such as ``6y``, ``18m`` or ``30d`` (units combine: ``1y6m``)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse ``<n>y<n>m<n>d`` (each part optional, at least one); raise ValueError if not."""
        match = _PERIOD.match(text.strip())
        if not text.strip() or match is None:
            raise ValueError(
                f"invalid period {text!r}; write a number and a unit (y, m, d), "
                "e.g. '6y', '18m', '30d', or 'permanent'"
            )
        years, months, days = (int(group or 0) for group in match.groups())
        duration = cls(years, months, days)
        if years + months + days == 0:
            raise ValueError(f"period {text!r} is zero; a record must be kept for some time")
        if years + months // 12 + days // 366 > MAX_PERIOD_YEARS:
            raise ValueError(f"period {text!r} exceeds {MAX_PERIOD_YEARS} years; use 'permanent'")
        return duration

    def add_to(self, start: date) -> date | None:
        """The date this duration after ``start``; a missing day clamps (29 Feb + 1y = 28 Feb).

        ``None`` if it falls after 9999-12-31, the end of the calendar: never.
        """
        return add_period(start, years=self.years, months=self.months, days=self.days)

    @property
    def most_days(self) -> int:
        """The most days this duration can span from any start (months count 31 days)."""
        return self.years * 366 + self.months * 31 + self.days

    def __str__(self) -> str:
        parts = ((self.years, "y"), (self.months, "m"), (self.days, "d"))
        return "".join(f"{amount}{unit}" for amount, unit in parts if amount)


@dataclass(frozen=True)
class RetentionTerm:
    """How long a non-permanent record type is kept and what the period counts from."""

    period: Duration
    trigger: Trigger
    counting: Counting
    deed_period: Duration | None = None


@dataclass(frozen=True)
class RecordTypeRule:
    """One record type's entry in the schedule; ``term`` is None for permanent records."""

    key: str
    label: str
    description: str
    action: Action
    citation: str
    term: RetentionTerm | None

    @property
    def is_permanent(self) -> bool:
        """Whether records of this type are kept permanently (never proposed for disposal)."""
        return self.term is None

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready data, in the schedule file's own vocabulary."""
        term = self.term
        return {
            "key": self.key,
            "label": self.label,
            "description": self.description,
            "period": "permanent" if term is None else str(term.period),
            "trigger": None if term is None else term.trigger,
            "counting": None if term is None else term.counting,
            "deed_period": str(term.deed_period) if term and term.deed_period else None,
            "action": self.action,
            "citation": self.citation,
        }


@dataclass(frozen=True)
class RequiredRecordRule:
    """Once a contract reaches one of ``statuses``, a record of one of ``any_of`` must exist.

    With ``value_over_pence`` set, the rule applies only when the awarded value is
    strictly greater than it.
    """

    id: str
    stage: Stage
    label: str
    any_of: tuple[str, ...]
    statuses: tuple[str, ...]
    value_over_pence: int | None = None
    kind: Literal["required"] = "required"


@dataclass(frozen=True)
class QuarterlyRecordRule:
    """While a contract is in one of ``statuses``, each calendar quarter needs a record.

    A record dated in the quarter, or within ``grace_days`` after it, satisfies it.
    """

    id: str
    stage: Stage
    label: str
    any_of: tuple[str, ...]
    statuses: tuple[str, ...]
    grace_days: int
    kind: Literal["quarterly"] = "quarterly"


@dataclass(frozen=True)
class AfterEndRecordRule:
    """In ``statuses``, a record of ``any_of`` is due ``within_days`` after the contract ends."""

    id: str
    stage: Stage
    label: str
    any_of: tuple[str, ...]
    statuses: tuple[str, ...]
    within_days: int
    kind: Literal["after_end"] = "after_end"


CompletenessRule = RequiredRecordRule | QuarterlyRecordRule | AfterEndRecordRule


def completeness_rule_to_dict(rule: CompletenessRule) -> dict[str, Any]:
    """A completeness rule as JSON-ready data."""
    data: dict[str, Any] = {
        "id": rule.id,
        "kind": rule.kind,
        "stage": rule.stage,
        "label": rule.label,
        "any_of": list(rule.any_of),
        "statuses": list(rule.statuses),
    }
    match rule:
        case RequiredRecordRule():
            data["value_over_pence"] = rule.value_over_pence
        case QuarterlyRecordRule():
            data["grace_days"] = rule.grace_days
        case AfterEndRecordRule():
            data["within_days"] = rule.within_days
    return data


@dataclass(frozen=True)
class RetentionSchedule:
    """A validated schedule: retention per record type, and the completeness rules."""

    source: str
    title: str
    version: str
    expiring_window_days: int
    record_types: dict[str, RecordTypeRule]
    completeness: tuple[CompletenessRule, ...]
    reconciliation: Thresholds = field(default_factory=Thresholds)
    transparency: RegisterRules = field(default_factory=RegisterRules)

    @cached_property
    def reach_days(self) -> int:
        """The most days the schedule ever counts forward from one date.

        The longest retention or deed period plus a year (counting from the end of a
        financial year), or the longest completeness deadline (a quarter and its grace,
        or the days allowed after the end), whichever is longer.
        """
        periods = [0]
        for rule in self.record_types.values():
            if rule.term is not None:
                deed = rule.term.deed_period
                periods += [rule.term.period.most_days, deed.most_days if deed else 0]
        deadlines = [0]
        for check in self.completeness:
            if isinstance(check, QuarterlyRecordRule):
                deadlines.append(_QUARTER_DAYS + check.grace_days)
            elif isinstance(check, AfterEndRecordRule):
                deadlines.append(check.within_days)
        return max(max(periods) + 366, max(deadlines))

    @cached_property
    def last_countable_day(self) -> date:
        """The last date every period and deadline of the schedule can be counted from.

        Counting from a later date would run past 9999-12-31, the end of the calendar.
        """
        return add_days(date.max, -self.reach_days) or date.min

    def rule_for(self, record_type: str) -> RecordTypeRule:
        """The rule for ``record_type``; raises :class:`UnknownRecordType` if not defined."""
        try:
            return self.record_types[record_type]
        except KeyError:
            raise UnknownRecordType(record_type) from None

    def to_dict(self) -> dict[str, Any]:
        """The whole schedule as JSON-ready data (served by ``GET /api/retention/schedule``)."""
        return {
            "title": self.title,
            "version": self.version,
            "expiring_window_days": self.expiring_window_days,
            "stages": list(STAGES),
            "record_types": {key: rule.to_dict() for key, rule in self.record_types.items()},
            "completeness": [completeness_rule_to_dict(rule) for rule in self.completeness],
            "reconciliation": self.reconciliation.to_dict(),
            "transparency": self.transparency.to_dict(),
        }


def default_schedule_path() -> Path:
    """The path of the shipped UK default schedule file."""
    return Path(str(resources.files(__package__ or __name__).joinpath(DEFAULT_SCHEDULE_FILE)))


def load_schedule(path: Path | None = None) -> RetentionSchedule:
    """Read and validate a schedule file; ``None`` loads the shipped default.

    Raises :class:`ScheduleError` for an unreadable file, a TOML syntax error or an
    invalid rule.
    """
    if path is None:
        resource = resources.files(__package__ or __name__).joinpath(DEFAULT_SCHEDULE_FILE)
        return parse_schedule(resource.read_text(encoding="utf-8"), source=DEFAULT_SCHEDULE_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleError(str(path), f"cannot read the schedule file: {exc}") from exc
    return parse_schedule(text, source=str(path))


def parse_schedule(text: str, *, source: str = "<schedule>") -> RetentionSchedule:
    """Validate schedule TOML given as text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise ScheduleError(source, f"TOML syntax error: {exc}", line=line) from exc
    document = _Document(source, text)
    top = _Table(data, (), document)
    top.allow_only(
        (
            "title",
            "version",
            "expiring_window_days",
            "record_types",
            "completeness",
            "reconciliation",
            "transparency",
        )
    )
    record_types = _read_record_types(top.subtable("record_types"), document)
    completeness = _read_completeness(top.optional_subtable("completeness"), record_types)
    return RetentionSchedule(
        source=source,
        title=top.optional_text("title") or "",
        version=top.optional_text("version") or "",
        expiring_window_days=top.integer(
            "expiring_window_days", default=DEFAULT_EXPIRING_WINDOW_DAYS, maximum=3660
        ),
        record_types=record_types,
        completeness=completeness,
        reconciliation=_read_reconciliation(top.optional_subtable("reconciliation")),
        transparency=_read_transparency(top.optional_subtable("transparency")),
    )


_RECORD_TYPE_KEYS = (
    "label",
    "description",
    "period",
    "trigger",
    "counting",
    "deed_period",
    "action",
    "citation",
)
_RULE_KEYS: dict[RuleKind, tuple[str, ...]] = {
    "required": ("value_over_pence",),
    "quarterly": ("grace_days",),
    "after_end": ("within_days",),
}
_COMMON_RULE_KEYS = ("kind", "stage", "label", "any_of", "statuses")


def _read_record_types(tables: _Table, document: _Document) -> dict[str, RecordTypeRule]:
    if not tables.names():
        raise document.error(tables.path, "the schedule defines no record types")
    rules = {}
    for key in tables.names():
        if not _RECORD_TYPE_KEY.match(key):
            raise document.error(
                (*tables.path, key),
                "record type keys are lower-case letters, digits and '_' (at most 64)",
            )
        rules[key] = _read_record_type(tables.subtable(key))
    return rules


def _read_record_type(table: _Table) -> RecordTypeRule:
    table.allow_only(_RECORD_TYPE_KEYS)
    label = table.text("label")
    description = table.optional_text("description") or ""
    citation = table.text("citation")
    period_text = table.text("period")
    action = table.choice("action", ACTIONS)
    if period_text.strip() == "permanent":
        term = None
        table.forbid(("trigger", "counting", "deed_period"), "a permanent record has no period")
        if action != "transfer":
            raise table.error("action", "a permanent record's action is 'transfer'")
    else:
        term = RetentionTerm(
            period=table.duration("period"),
            trigger=table.choice("trigger", TRIGGERS),
            counting=table.choice("counting", COUNTINGS),
            deed_period=table.duration("deed_period") if table.has("deed_period") else None,
        )
    return RecordTypeRule(table.path[-1], label, description, action, citation, term)


def _read_completeness(
    tables: _Table | None, record_types: Mapping[str, RecordTypeRule]
) -> tuple[CompletenessRule, ...]:
    if tables is None:
        return ()
    return tuple(
        _read_completeness_rule(tables.subtable(rule_id), record_types)
        for rule_id in tables.names()
    )


def _read_completeness_rule(
    table: _Table, record_types: Mapping[str, RecordTypeRule]
) -> CompletenessRule:
    kind = table.choice("kind", RULE_KINDS)
    table.allow_only(_COMMON_RULE_KEYS + _RULE_KEYS[kind])
    rule_id, stage, label = table.path[-1], table.choice("stage", STAGES), table.text("label")
    any_of = table.text_list("any_of", allowed=tuple(record_types), what="record type")
    statuses = table.text_list("statuses", allowed=CONTRACT_STATUSES, what="status")
    match kind:
        case "required":
            value_over = table.optional_integer("value_over_pence")
            return RequiredRecordRule(rule_id, stage, label, any_of, statuses, value_over)
        case "quarterly":
            grace = table.integer("grace_days", maximum=366)
            return QuarterlyRecordRule(rule_id, stage, label, any_of, statuses, grace)
        case "after_end":
            within = table.integer("within_days", maximum=3660)
            return AfterEndRecordRule(rule_id, stage, label, any_of, statuses, within)


_DAYS_MAX = 3660


def _read_reconciliation(table: _Table | None) -> Thresholds:
    """The thresholds of the money findings; each key defaults to the shipped value."""
    if table is None:
        return Thresholds()
    default = Thresholds()
    names = tuple(default.to_dict())
    table.allow_only(names)
    values = {}
    for name in names:
        limit = 100 if name.endswith("_percent") else _DAYS_MAX if name.endswith("_days") else None
        values[name] = table.integer(
            name, default=getattr(default, name), maximum=limit or MAX_PENCE
        )
    return Thresholds(**values)


def _read_transparency(table: _Table | None) -> RegisterRules:
    """When register items must be published; each key defaults to the shipped value."""
    if table is None:
        return RegisterRules()
    default = RegisterRules()
    table.allow_only(tuple(default.to_dict()))
    tag = table.optional_text("significant_decision_tag") or default.significant_decision_tag
    if not re.fullmatch(r"[a-z0-9][a-z0-9_ -]{0,63}", tag):
        raise table.error("significant_decision_tag", "a tag is lower-case, at most 64 characters")
    return RegisterRules(
        contract_over_pence=table.integer(
            "contract_over_pence", default=default.contract_over_pence, maximum=MAX_PENCE
        ),
        tender_over_pence=table.integer(
            "tender_over_pence", default=default.tender_over_pence, maximum=MAX_PENCE
        ),
        publish_within_days=table.integer(
            "publish_within_days", default=default.publish_within_days, maximum=_DAYS_MAX
        ),
        significant_decision_tag=tag,
    )


class _Document:
    """The schedule's text, indexed so a key path can be traced back to its line."""

    _HEADER = re.compile(r"^\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
    _PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
    _KEY = re.compile(rf"^({_PART}(?:\s*\.\s*{_PART})*)\s*=")

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self._lines: dict[tuple[str, ...], int] = {}
        self._index(text)

    def _index(self, text: str) -> None:
        table: tuple[str, ...] = ()
        open_quote: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if open_quote is not None:
                # Inside a multi-line string nothing is a key; wait for the closing quotes.
                open_quote = None if open_quote in line else open_quote
                continue
            header = self._HEADER.match(line)
            if header:
                table = _split_dotted(header.group(1))
                self._lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self._lines.setdefault(table + _split_dotted(key.group(1)), number)
                rest = line[key.end() :]
                open_quote = next((q for q in ('"""', "'''") if rest.count(q) == 1), None)

    def line_of(self, path: tuple[str, ...]) -> int | None:
        """The line defining ``path``, else that of its nearest ancestor in the file."""
        for length in range(len(path), 0, -1):
            prefix = path[:length]
            found = [n for known, n in self._lines.items() if known[:length] == prefix]
            if found:
                return min(found)
        return None

    def error(self, path: tuple[str, ...], problem: str) -> ScheduleError:
        """An error about the key at ``path`` (its last part), located in the file."""
        table = ".".join(path[:-1]) or None
        key = path[-1] if path else None
        return ScheduleError(self.source, problem, line=self.line_of(path), table=table, key=key)


def _split_dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


class _Table:
    """One TOML table being read: typed accessors that raise located errors."""

    def __init__(self, data: Any, path: tuple[str, ...], document: _Document) -> None:
        if not isinstance(data, dict):
            raise document.error(path, "must be a table")
        self.data: dict[str, Any] = data
        self.path = path
        self.document = document

    def names(self) -> list[str]:
        """The table's keys in file order."""
        return list(self.data)

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return key in self.data

    def allow_only(self, allowed: Iterable[str]) -> None:
        """Reject the first key not in ``allowed``, suggesting the closest allowed one."""
        allowed = tuple(allowed)
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
                raise self.error(key, f"unknown key ({hint})")

    def forbid(self, keys: Iterable[str], why: str) -> None:
        """Reject any of ``keys`` that is present, saying ``why``."""
        for key in keys:
            if key in self.data:
                raise self.error(key, f"not allowed here: {why}")

    def error(self, key: str, problem: str) -> ScheduleError:
        """A located error about ``key`` in this table."""
        return self.document.error((*self.path, key), problem)

    def _value(self, key: str, expected: type | tuple[type, ...], noun: str) -> Any:
        if key not in self.data:
            raise self.error(key, "missing required key")
        value = self.data[key]
        # bool is an int in Python, but `true` is never a valid number here.
        if not isinstance(value, expected) or isinstance(value, bool):
            raise self.error(key, f"must be {noun}, not {value!r}")
        return value

    def subtable(self, key: str) -> _Table:
        """The required sub-table ``key``."""
        return _Table(self._value(key, dict, "a table"), (*self.path, key), self.document)

    def optional_subtable(self, key: str) -> _Table | None:
        """The sub-table ``key``, or None if absent."""
        return self.subtable(key) if key in self.data else None

    def text(self, key: str) -> str:
        """The required, non-empty string ``key``."""
        value: str = self._value(key, str, "a string")
        if not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def optional_text(self, key: str) -> str | None:
        """The string ``key``, or None if absent."""
        return self.text(key) if key in self.data else None

    def choice(self, key: str, allowed: tuple[_T, ...]) -> _T:
        """The string ``key``, which must be one of ``allowed``."""
        value = self.text(key)
        for option in allowed:
            if value == option:
                return option
        raise self.error(key, f"unknown value {value!r} (expected one of: {', '.join(allowed)})")

    def duration(self, key: str) -> Duration:
        """The period string ``key`` (``permanent`` is not accepted here)."""
        text = self.text(key)
        if text.strip() == "permanent":
            raise self.error(key, "'permanent' is not allowed here; give a period such as '12y'")
        try:
            return Duration.parse(text)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def integer(self, key: str, *, default: int | None = None, maximum: int | None = None) -> int:
        """The non-negative integer ``key`` (``default`` if absent and one is given)."""
        if key not in self.data and default is not None:
            return default
        value: int = self._value(key, int, "a whole number")
        if value < 0:
            raise self.error(key, f"must be 0 or more, not {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, not {value}")
        return value

    def optional_integer(self, key: str) -> int | None:
        """The non-negative integer ``key``, or None if absent."""
        return self.integer(key) if key in self.data else None

    def text_list(self, key: str, *, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
        """The non-empty list of strings ``key``, each one of ``allowed``."""
        values = self._value(key, list, f"a list of {what}s")
        if not values:
            raise self.error(key, f"must name at least one {what}")
        for value in values:
            if value not in allowed:
                close = difflib.get_close_matches(str(value), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.error(key, f"unknown {what} {value!r}{hint}")
        return tuple(values)
