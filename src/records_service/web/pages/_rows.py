"""Rows of record tables shared by several pages (dashboard, record lists, contracts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from records_service.contracts.service import references_by_id
from records_service.records.models import Record
from records_service.retention import RetentionSchedule


@dataclass(frozen=True)
class RecordRow:
    """What a table of records shows for one record."""

    id: str
    title: str
    type_label: str
    contract: str | None
    record_date: date
    captured_at: datetime
    classification: str
    status: str
    current_version: int


def type_label(schedule: RetentionSchedule, record_type: str) -> str:
    """The schedule's label for ``record_type`` (the key itself if the schedule lost it)."""
    rule = schedule.record_types.get(record_type)
    return rule.label if rule else record_type


def type_choices(schedule: RetentionSchedule) -> list[tuple[str, str]]:
    """Record types as (key, label), sorted by label, for select boxes."""
    return sorted(
        ((key, rule.label) for key, rule in schedule.record_types.items()),
        key=lambda item: item[1].lower(),
    )


def record_rows(
    session: Session, records: Sequence[Record], schedule: RetentionSchedule
) -> list[RecordRow]:
    """Table rows for ``records``, in the given order."""
    references = references_by_id(
        session, {r.contract_id for r in records if r.contract_id is not None}
    )
    return [
        RecordRow(
            id=r.id,
            title=r.title,
            type_label=type_label(schedule, r.record_type),
            contract=references.get(r.contract_id) if r.contract_id is not None else None,
            record_date=r.record_date,
            captured_at=r.captured_at,
            classification=r.classification,
            status=r.status,
            current_version=r.current_version,
        )
        for r in records
    ]
