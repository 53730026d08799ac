"""Every contract at a glance: its value, funding, status and how many items its file lacks.

The counts are the contract page's completeness checklist worked out for many
contracts at once: the same rules (:func:`records_service.retention.evaluate_contract`)
over the records on each file that the user may see, since a hidden record must not
fill an item. Whatever the number of contracts, this takes two queries: the contracts
that match the filters, and the type and date of the records on their files (only the
types a completeness rule names). Sorting by a count, and keeping only the contracts
with gaps, need every matching contract's counts, so the page is cut after sorting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from records_service.auth.models import User
from records_service.contracts.models import Contract
from records_service.contracts.service import contract_conditions
from records_service.pagination import PageParams, Sort
from records_service.records.models import Record
from records_service.records.service import visible_clause
from records_service.retention.completeness import RecordSummary, evaluate_contract
from records_service.retention.facts import contract_facts
from records_service.retention.policy import contract_problems
from records_service.retention.schedule import RetentionSchedule


@dataclass(frozen=True)
class ContractGlance:
    """One contract's row in the list; counts are ``None`` when its dates cannot be
    counted from (the contract page says what to correct)."""

    reference: str
    title: str
    provider: str | None
    funding_stream: str | None
    awarded_value_pence: int | None
    status: str
    end_date: date | None
    missing: int | None
    overdue: int | None

    @property
    def has_gaps(self) -> bool:
        """Whether anything is missing or overdue."""
        return bool(self.missing or self.overdue)


@dataclass(frozen=True)
class GlanceFilters:
    """Which contracts to list: words in the reference or title, status, funding stream,
    and whether only those with something missing or overdue."""

    q: str | None = None
    status: str | None = None
    funding_stream: str | None = None
    gaps_only: bool = False


# What the list may be sorted by: each key's value for a row (text ignoring case).
GLANCE_SORTS: dict[str, Callable[[ContractGlance], Any]] = {
    "reference": lambda row: row.reference.lower(),
    "title": lambda row: row.title.lower(),
    "funding": lambda row: (row.funding_stream or "").lower() or None,
    "value": lambda row: row.awarded_value_pence,
    "status": lambda row: row.status,
    "ends": lambda row: row.end_date,
    "missing": lambda row: row.missing,
    "overdue": lambda row: row.overdue,
}
DEFAULT_GLANCE_SORT = Sort("reference")


def contracts_at_a_glance(
    session: Session,
    *,
    schedule: RetentionSchedule,
    user: User,
    today: date,
    filters: GlanceFilters,
    sort: Sort = DEFAULT_GLANCE_SORT,
    page: PageParams,
) -> tuple[list[ContractGlance], int]:
    """A page of the matching contracts with their counts, sorted, and the total."""
    conditions = contract_conditions(
        status=filters.status, funding_stream=filters.funding_stream, q=filters.q
    )
    contracts = list(session.exec(select(Contract).where(*conditions)))
    files = _files(session, schedule, user, conditions)
    rows = [_glance(c, files.get(c.id, []), schedule, today) for c in contracts]
    if filters.gaps_only:
        rows = [row for row in rows if row.has_gaps]
    ordered = sorted_rows(rows, sort)
    return ordered[page.offset : page.offset + page.page_size], len(ordered)


def _files(
    session: Session, schedule: RetentionSchedule, user: User, conditions: list[Any]
) -> dict[int | None, list[RecordSummary]]:
    """``contract id -> records on its file`` (those the rules name and ``user`` may see)."""
    named = {kind for rule in schedule.completeness for kind in rule.any_of}
    matching = select(Contract.id).where(*conditions)
    rows = session.exec(
        select(col(Record.contract_id), col(Record.record_type), col(Record.record_date)).where(
            col(Record.contract_id).in_(matching),
            col(Record.record_type).in_(named),
            visible_clause(user),
        )
    )
    files: dict[int | None, list[RecordSummary]] = defaultdict(list)
    for contract_id, record_type, record_date in rows:
        files[contract_id].append(RecordSummary(record_type, record_date))
    return files


def _glance(
    contract: Contract, records: Sequence[RecordSummary], schedule: RetentionSchedule, today: date
) -> ContractGlance:
    facts = contract_facts(contract)
    missing = overdue = None
    if not contract_problems(facts, schedule):
        gaps = evaluate_contract(facts, records, schedule.completeness, today)
        overdue = sum(1 for gap in gaps if gap.kind == "overdue_return")
        missing = len(gaps) - overdue
    return ContractGlance(
        reference=contract.reference,
        title=contract.title,
        provider=contract.provider,
        funding_stream=contract.funding_stream,
        awarded_value_pence=contract.awarded_value_pence,
        status=contract.status,
        end_date=contract.end_date,
        missing=missing,
        overdue=overdue,
    )


def sorted_rows(rows: list[ContractGlance], sort: Sort) -> list[ContractGlance]:
    """``rows`` by ``sort``, then by reference; rows without a value come last either way."""
    value = GLANCE_SORTS[sort.key]
    by_reference = sorted(rows, key=lambda row: row.reference.lower())
    known = [row for row in by_reference if value(row) is not None]
    unknown = [row for row in by_reference if value(row) is None]
    return sorted(known, key=value, reverse=sort.descending) + unknown
