"""One record's retention as the API shows it: computed dates, today's decision, holds, disposal.

Nothing here is stored: the retain-until date is computed from the schedule and
the contract's current dates every time, so it follows a change of end date.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from records_service.records.models import Record
from records_service.retention.dispositions import disposal_of
from records_service.retention.facts import facts_for
from records_service.retention.holds import holds_of_record
from records_service.retention.models import Disposition, LockMirror
from records_service.retention.policy import disposal_decision
from records_service.retention.schedule import RetentionSchedule
from records_service.retention.schemas import (
    DisposalRecordPublic,
    DispositionPublic,
    ObjectLockPublic,
    RecordRetentionPublic,
)
from records_service.storage import BlobStore


def record_retention(
    session: Session, record: Record, schedule: RetentionSchedule, today: date, store: BlobStore
) -> RecordRetentionPublic:
    """Everything retention knows about ``record`` as of ``today``."""
    decision = disposal_decision(facts_for(session, record), schedule, today)
    rule = schedule.record_types.get(record.record_type)
    holds = holds_of_record(session, record)
    dispositions = session.exec(
        select(Disposition).where(Disposition.record_id == record.id).order_by(col(Disposition.id))
    )
    tombstone = disposal_of(session, record.id)
    mirror = session.get(LockMirror, record.id) if store.supports_object_lock else None
    until = decision.retain_until
    return RecordRetentionPublic(
        record_id=record.id,
        status=record.status,
        record_type=record.record_type,
        action=rule.action if rule else None,
        citation=rule.citation if rule else None,
        retain_until=until.until,
        retention_kind=until.kind,
        retention_reason=until.reason,
        decision=decision.kind,
        decision_reason=decision.reason,
        on_hold=any(hold.active for hold in holds),
        holds=holds,
        dispositions=[DispositionPublic.of(row) for row in dispositions],
        disposal=DisposalRecordPublic.of(tombstone) if tombstone else None,
        object_lock=ObjectLockPublic.model_validate(mirror, from_attributes=True)
        if mirror
        else None,
    )
