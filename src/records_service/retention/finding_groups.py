"""Findings grouped by contract, in the words a commissioning officer uses.

The findings table keeps one row per finding (one per overdue quarter, one per
record due for review); this module reads a page of contracts that have findings
and says what each lacks or has due: "Needs assessment missing", "4 quarterly
monitoring returns overdue (Q1 2024 to Q4 2024)", records named by their titles,
dates as "31 March 2025". A missing item carries the record type to upload. Four
queries a page: the contracts (grouped and sorted in SQL), their findings, the
titles of the records named, the contracts' titles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from records_service.auth.models import User
from records_service.contracts.models import Contract
from records_service.pagination import PageParams, Sort
from records_service.records.service import record_labels
from records_service.retention.findings import FindingFilters, finding_conditions
from records_service.retention.models import Finding, FindingKind
from records_service.retention.schedule import STAGES, RetentionSchedule

_COUNT = func.count(col(Finding.id))
_FIRST = func.min(col(Finding.first_seen))
# What the groups may be sorted by.
GROUP_SORTS: dict[str, Any] = {
    "contract": col(Finding.contract_ref),
    "count": _COUNT,
    "first_seen": _FIRST,
}
DEFAULT_GROUP_SORT = Sort("contract")


@dataclass(frozen=True)
class FindingLine:
    """One thing to act on: a sentence, and what to link it to."""

    text: str
    kind: str
    first_seen: datetime
    resolved_at: datetime | None = None
    record_id: str | None = None
    upload_type: str | None = None
    stage: str | None = None


@dataclass
class FindingGroup:
    """A contract's findings (``contract`` is ``None`` for records on no contract)."""

    contract: str | None
    contract_title: str | None
    count: int
    first_seen: datetime
    lines: list[FindingLine] = field(default_factory=list)


def findings_by_contract(
    session: Session,
    *,
    filters: FindingFilters,
    schedule: RetentionSchedule,
    user: User,
    page: PageParams,
    sort: Sort = DEFAULT_GROUP_SORT,
) -> tuple[list[FindingGroup], int]:
    """A page of contracts with findings matching ``filters``, each with its findings in
    words, and the number of such contracts."""
    conditions = finding_conditions(filters)
    grouped = (
        select(col(Finding.contract_ref), _COUNT, _FIRST)
        .where(*conditions)
        .group_by(col(Finding.contract_ref))
    )
    total = session.exec(select(func.count()).select_from(grouped.subquery())).one()
    column = GROUP_SORTS[sort.key]
    ordered = column.desc().nulls_last() if sort.descending else column.asc().nulls_last()
    rows = session.exec(
        grouped.order_by(ordered, col(Finding.contract_ref).asc().nulls_last())
        .offset(page.offset)
        .limit(page.page_size)
    ).all()
    groups = [FindingGroup(ref, None, count, first) for ref, count, first in rows]
    _fill(session, groups, conditions, schedule, user)
    return groups, int(total)


def _fill(
    session: Session,
    groups: list[FindingGroup],
    conditions: list[Any],
    schedule: RetentionSchedule,
    user: User,
) -> None:
    refs = [g.contract for g in groups if g.contract is not None]
    on_page = [col(Finding.contract_ref).in_(refs)]
    if any(g.contract is None for g in groups):
        on_page.append(col(Finding.contract_ref).is_(None))
    findings = list(
        session.exec(
            select(Finding)
            .where(*conditions, or_(*on_page))
            .order_by(col(Finding.kind), col(Finding.key), col(Finding.id))
        )
    )
    titles = record_labels(session, {f.record_id for f in findings if f.record_id}, user)
    named = select(Contract.reference, Contract.title).where(col(Contract.reference).in_(refs))
    names = {reference: title for reference, title in session.exec(named)}
    for group in groups:
        group.contract_title = names.get(group.contract) if group.contract else None
        mine = [f for f in findings if f.contract_ref == group.contract]
        group.lines = finding_lines(mine, schedule, {k: v[0] for k, v in titles.items()})


def finding_lines(
    findings: Sequence[Finding], schedule: RetentionSchedule, titles: dict[str, str]
) -> list[FindingLine]:
    """Sentences for one contract's findings: overdue quarters of a rule become one line."""
    lines: list[FindingLine] = []
    quarters: dict[tuple[str, bool], list[Finding]] = {}
    for finding in findings:
        details = _details(finding)
        if finding.kind == FindingKind.OVERDUE_RETURN.value:
            rule = str(details.get("rule_id", ""))
            quarters.setdefault((rule, finding.resolved_at is None), []).append(finding)
        else:
            lines.append(_line(finding, details, schedule, titles))
    for group in quarters.values():
        lines.append(_quarters_line(group, schedule))
    return sorted(lines, key=_line_order)


# Missing records first, then late returns, then what is due on records already held.
_KIND_ORDER = {FindingKind.MISSING_RECORD.value: 0, FindingKind.OVERDUE_RETURN.value: 1}


def _line_order(line: FindingLine) -> tuple[bool, int, int, datetime, str]:
    stage = STAGES.index(line.stage) if line.stage in STAGES else len(STAGES)
    kind = _KIND_ORDER.get(line.kind, 2)
    return (line.resolved_at is not None, kind, stage, line.first_seen, line.text)


def _details(finding: Finding) -> dict[str, Any]:
    try:
        value = json.loads(finding.details)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def long_date(day: date | None) -> str:
    """A date as people write it: 31 March 2025."""
    return f"{day:%-d %B %Y}" if day else "an unknown date"


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def type_words(schedule: RetentionSchedule, record_types: Iterable[str]) -> str:
    """Record types as words: "Contract or grant agreement"."""
    labels = []
    for key in record_types:
        rule = schedule.record_types.get(key)
        labels.append(rule.label if rule else key.replace("_", " "))
    text = " or ".join(labels[:1] + [label[:1].lower() + label[1:] for label in labels[1:]])
    return text or "A record"


def _line(
    finding: Finding, details: dict[str, Any], schedule: RetentionSchedule, titles: dict[str, str]
) -> FindingLine:
    text = _sentence(finding, details, schedule, titles)
    types = details.get("record_types") or []
    missing = finding.kind == FindingKind.MISSING_RECORD.value
    return FindingLine(
        text=text,
        kind=finding.kind,
        first_seen=finding.first_seen,
        resolved_at=finding.resolved_at,
        record_id=finding.record_id,
        upload_type=str(types[0]) if missing and types else None,
        stage=str(details.get("stage")) if missing else None,
    )


def _sentence(
    finding: Finding, details: dict[str, Any], schedule: RetentionSchedule, titles: dict[str, str]
) -> str:
    record = finding.record_id
    title = titles.get(record, f"Record {record[:8]}…") if record else ""
    until = long_date(_day(details.get("retain_until")))
    then = {"destroy": "destruction", "transfer": "transfer"}.get(
        str(details.get("action")), "review"
    )
    match finding.kind:
        case FindingKind.MISSING_RECORD.value:
            text = f"{type_words(schedule, details.get('record_types') or [])} missing"
            due = _day(details.get("due_date"))
            if due is not None:
                text += f": due by {long_date(due)}, {details.get('days_overdue')} days overdue"
            return text
        case FindingKind.EXPIRING.value:
            return f"{title}: kept until {until}, then {then}"
        case FindingKind.REVIEW_DUE.value:
            return f"{title}: due for review (kept until {until})"
        case FindingKind.DISPOSITION_DUE.value:
            return f"{title}: kept until {until}; its {then} awaits approval"
        case FindingKind.FIXITY_FAILURE.value:
            version, problem = details.get("version"), details.get("problem")
            return f"{title}: the stored copy of version {version} fails its check ({problem})"
        case FindingKind.JOB_ERROR.value:
            what = title or "The contract"
            return f"{what} could not be checked: {details.get('problem')}"
    return finding.summary


def quarter_name(day: date) -> str:
    """A calendar quarter as Q1 2024 (January to March)."""
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def _runs(starts: list[date]) -> str:
    """Consecutive quarters as ranges: "Q1 2024 to Q4 2024, Q2 2025"."""
    runs: list[list[date]] = []
    for start in sorted(set(starts)):
        index = start.year * 4 + (start.month - 1) // 3
        if runs and runs[-1][-1].year * 4 + (runs[-1][-1].month - 1) // 3 == index - 1:
            runs[-1].append(start)
        else:
            runs.append([start])
    parts = [
        quarter_name(run[0])
        if len(run) == 1
        else f"{quarter_name(run[0])} to {quarter_name(run[-1])}"
        for run in runs
    ]
    return ", ".join(parts)


def _quarters_line(findings: list[Finding], schedule: RetentionSchedule) -> FindingLine:
    details = [_details(f) for f in findings]
    types = details[0].get("record_types") or []
    starts = [day for day in (_day(d.get("quarter_start")) for d in details) if day]
    noun = type_words(schedule, types[:1]).lower()
    count = len(findings)
    plural = noun if count == 1 else f"{noun}s"
    resolved = findings[0].resolved_at
    return FindingLine(
        text=f"{count} quarterly {plural} overdue ({_runs(starts)})",
        kind=FindingKind.OVERDUE_RETURN.value,
        first_seen=min(f.first_seen for f in findings),
        resolved_at=max((f.resolved_at for f in findings if f.resolved_at), default=None)
        if resolved
        else None,
        upload_type=str(types[0]) if types else None,
    )
