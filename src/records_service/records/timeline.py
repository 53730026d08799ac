"""A contract's history: every record and version filed under it, in date order.

The timeline answers "what happened on this contract, when, and who filed
it". Entries are ordered by the record's date, then by when the version was
captured (then by record id and version, so the order is stable). Records the
caller may not see are left out entirely, exactly as in record reads.
Disposed and transferred records stay in the history with their status: the
fact that a document existed and was disposed of is itself part of the record.

It lives with the records it reads, not in ``contracts``: a contract knows nothing
of the records filed under it, so ``records`` imports ``contracts``, never the reverse.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from records_service.auth.models import User
from records_service.contracts.service import get_contract
from records_service.records.models import Record, Version
from records_service.records.service import visible_clause


class TimelineEntry(BaseModel):
    """One version of one record of the contract."""

    record_id: str
    title: str
    record_type: str
    classification: str
    record_date: date
    status: str
    version: int
    is_current: bool
    filename: str
    media_type: str
    size: int
    captured_at: datetime
    captured_by: str


class ContractTimeline(BaseModel):
    """Every visible record version of a contract, oldest first."""

    contract: str
    title: str
    entries: list[TimelineEntry]


def contract_timeline(session: Session, *, reference: str, user: User) -> ContractTimeline:
    """The history of contract ``reference`` as ``user`` may see it; ``NotFound`` if none."""
    contract = get_contract(session, reference)
    rows = session.exec(
        select(Record, Version, User.username)
        .join(Version, col(Version.record_id) == col(Record.id))
        .join(User, col(User.id) == col(Version.captured_by_id))
        .where(col(Record.contract_id) == contract.id, visible_clause(user))
        .order_by(
            col(Record.record_date),
            col(Version.captured_at),
            col(Record.id),
            col(Version.number),
        )
    )
    entries = [
        TimelineEntry(
            record_id=record.id,
            title=record.title,
            record_type=record.record_type,
            classification=record.classification,
            record_date=record.record_date,
            status=record.status,
            version=version.number,
            is_current=version.number == record.current_version,
            filename=version.original_filename,
            media_type=version.media_type,
            size=version.size,
            captured_at=version.captured_at,
            captured_by=username,
        )
        for record, version, username in rows
    ]
    return ContractTimeline(contract=contract.reference, title=contract.title, entries=entries)
