"""Tables of retention in practice: holds, dispositions, disposal records, findings, lock mirrors.

``disposal_records`` (the tombstones) are append-only, enforced by database
triggers in the migrations like the audit tables. Holds and dispositions change
state (release, decision, execution) but are never deleted. Findings are upserted
by the retention job: at most one open finding per key.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime

SYSTEM_ACTOR = "system"


class HoldScope(StrEnum):
    """What a hold covers: one record, or every record on a contract's file."""

    RECORD = "record"
    CONTRACT = "contract"


class DispositionStatus(StrEnum):
    """Where a proposed disposal stands."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"


class DisposalAction(StrEnum):
    """What happens to a record at the end of its retention."""

    DESTROY = "destroy"
    TRANSFER = "transfer"


class FindingKind(StrEnum):
    """What the retention job can report."""

    MISSING_RECORD = "missing_record"
    OVERDUE_RETURN = "overdue_return"
    EXPIRING = "expiring"
    DISPOSITION_DUE = "disposition_due"
    REVIEW_DUE = "review_due"
    FIXITY_FAILURE = "fixity_failure"
    MISSING_REPLICA = "missing_replica"
    JOB_ERROR = "job_error"
    OVERPAID = "overpaid"
    SPEND_BEHIND_PROFILE = "spend_behind_profile"
    UNSPENT_AT_CLOSURE = "unspent_at_closure"
    PAYMENT_WITHOUT_INVOICE = "payment_without_invoice"
    SPEND_UNREPORTED = "spend_unreported"
    PUBLICATION_OVERDUE = "publication_overdue"
    PUBLISHED_COPY_MISSING = "published_copy_missing"


class GapReason(StrEnum):
    """Why a record known to have existed is not on the file."""

    LOST = "lost"
    NEVER_MADE = "never_made"
    DESTROYED_EARLY = "destroyed_early"
    HELD_BY_PROVIDER = "held_by_provider"


class KnownGap(SQLModel, table=True):
    """A record of a contract's file known to be missing, with what happened to it.

    Recorded by a records manager; closed (never deleted) when the record is later
    found, naming that record. An open gap explains a completeness gap of its
    record type and period, so checklists and findings tell it apart from an
    unexplained one.
    """

    __tablename__ = "known_gaps"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    record_type: str = Field(max_length=64)
    period_start: date
    period_end: date
    reason: str = Field(max_length=32)
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    reported_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by_id: int = Field(foreign_key="users.id")
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_by_id: int | None = Field(default=None, foreign_key="users.id")
    found_record_id: str | None = Field(
        default=None, sa_column=Column(String(32), ForeignKey("records.id"))
    )
    close_note: str | None = Field(default=None, sa_column=Column(Text))


class Hold(SQLModel, table=True):
    """A legal, FOI or audit hold on a record or a whole contract; blocks disposal."""

    __tablename__ = "holds"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=10)
    record_id: str | None = Field(
        default=None, sa_column=Column(String(32), ForeignKey("records.id"), index=True)
    )
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", index=True)
    reference: str = Field(max_length=100)
    reason: str = Field(max_length=1000)
    placed_by: str = Field(max_length=64)
    placed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    released_by: str | None = Field(default=None, max_length=64)
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    release_reason: str | None = Field(default=None, max_length=1000)


class Disposition(SQLModel, table=True):
    """A proposed end-of-retention action and its decision by a second person."""

    __tablename__ = "dispositions"
    __table_args__ = (
        # One undecided or approved-but-unexecuted proposal per record at a time.
        Index(
            "uq_dispositions_open_record",
            "record_id",
            unique=True,
            sqlite_where=text("status IN ('proposed', 'approved')"),
            postgresql_where=text("status IN ('proposed', 'approved')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), nullable=False, index=True)
    )
    action: str = Field(max_length=10)
    rule: str = Field(max_length=64)
    retain_until: date | None = Field(default=None)
    status: str = Field(default=DispositionStatus.PROPOSED.value, max_length=10, index=True)
    proposed_by: str = Field(max_length=64)
    proposed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    proposal_reason: str = Field(default="", max_length=1000)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    decision: str | None = Field(default=None, max_length=10)
    reason: str | None = Field(default=None, max_length=1000)
    executed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    error: str | None = Field(default=None, max_length=1000)


class DisposalRecord(SQLModel, table=True):
    """The tombstone of a destroyed or transferred record: what it was and who let it go."""

    __tablename__ = "disposal_records"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), nullable=False, unique=True)
    )
    disposition_id: int = Field(foreign_key="dispositions.id")
    title: str = Field(max_length=300)
    record_type: str = Field(max_length=64)
    contract_ref: str | None = Field(default=None, max_length=64, index=True)
    metadata_json: str = Field(sa_column=Column(Text, nullable=False))
    versions_json: str = Field(sa_column=Column(Text, nullable=False))
    rule: str = Field(max_length=64)
    citation: str = Field(max_length=1000)
    schedule_version: str = Field(default="", max_length=64)
    retain_until: date | None = Field(default=None)
    action: str = Field(max_length=10)
    proposed_by: str = Field(max_length=64)
    approved_by: str = Field(max_length=64)
    approval_reason: str = Field(max_length=1000)
    executed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    transfer_key: str | None = Field(default=None, max_length=512)
    transfer_sha256: str | None = Field(default=None, max_length=64)


class Finding(SQLModel, table=True):
    """Something the retention job found; resolved automatically when its cause goes away."""

    __tablename__ = "findings"
    __table_args__ = (
        Index(
            "uq_findings_open_key",
            "key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    subject: str = Field(max_length=200)
    key: str = Field(sa_column=Column(String(300), nullable=False))
    contract_ref: str | None = Field(default=None, max_length=64, index=True)
    record_id: str | None = Field(default=None, max_length=32, index=True)
    summary: str = Field(max_length=500)
    details: str = Field(sa_column=Column(Text, nullable=False))
    first_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))


class LockMirror(SQLModel, table=True):
    """What was last mirrored onto a record's stored objects (S3 object lock only).

    Lets the job skip records whose lock is already in place instead of asking the
    store about every object on every run.
    """

    __tablename__ = "lock_mirrors"

    record_id: str = Field(sa_column=Column(String(32), ForeignKey("records.id"), primary_key=True))
    retain_until: date | None = Field(default=None)
    legal_hold: bool = Field(default=False)
    versions: int = Field(sa_column=Column(Integer, nullable=False))
    mirrored_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
