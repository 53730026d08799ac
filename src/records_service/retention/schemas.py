"""API shapes of holds, dispositions, disposal records, findings, known gaps and computed
retention."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from records_service.bounds import (
    Identifier,
    Label,
    Note,
    Reason,
    RecordIds,
    Reference,
    SafeDate,
)
from records_service.retention.models import (
    DisposalAction,
    DisposalRecord,
    Disposition,
    Finding,
    FindingKind,
    GapReason,
    Hold,
)


class HoldCreate(BaseModel):
    """A hold on one record or on a whole contract (give exactly one of the two)."""

    model_config = ConfigDict(extra="forbid")

    record_id: Identifier | None = Field(None, max_length=32)
    contract: Identifier | None = Field(None, description="Contract reference.")
    reference: Reference = Field(
        min_length=1, examples=["FOI-2026-0142"], description="E.g. FOI case."
    )
    reason: Reason

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        if (self.record_id is None) == (self.contract is None):
            raise ValueError("give either record_id or contract, not both or neither")
        return self


class RecordHoldsCreate(BaseModel):
    """One hold on each of several records, for one case (a records list's ticked rows)."""

    model_config = ConfigDict(extra="forbid")

    record_ids: RecordIds
    reference: Reference = Field(min_length=1, examples=["FOI-2026-0142"])
    reason: Reason


class ReasonBody(BaseModel):
    """A reason, required for releasing a hold and for deciding a disposition."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class HoldPublic(BaseModel):
    """A hold as the API returns it."""

    id: int
    scope: str
    record_id: str | None
    contract: str | None
    reference: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None
    active: bool

    @classmethod
    def of(cls, hold: Hold, contract: str | None) -> HoldPublic:
        """Build from a row and its contract's reference."""
        assert hold.id is not None
        return cls(
            id=hold.id,
            scope=hold.scope,
            record_id=hold.record_id,
            contract=contract,
            reference=hold.reference,
            reason=hold.reason,
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
            released_by=hold.released_by,
            released_at=hold.released_at,
            release_reason=hold.release_reason,
            active=hold.released_at is None,
        )


class DispositionCreate(BaseModel):
    """A records manager's own proposal, e.g. after reviewing a ``review_due`` record."""

    model_config = ConfigDict(extra="forbid")

    record_id: Identifier = Field(max_length=32)
    action: DisposalAction
    reason: Reason


class DispositionPublic(BaseModel):
    """A proposed disposal and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    record_id: str
    action: str
    rule: str
    retain_until: date | None
    status: str
    proposed_by: str
    proposed_at: datetime
    proposal_reason: str
    decided_by: str | None
    decided_at: datetime | None
    decision: str | None
    reason: str | None
    executed_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, row: Disposition) -> DispositionPublic:
        """Build from a row."""
        return cls.model_validate(row)


class DisposalRecordPublic(BaseModel):
    """A tombstone: what was destroyed or transferred, under which rule, approved by whom."""

    record_id: str
    disposition_id: int
    title: str
    record_type: str
    contract: str | None
    metadata: dict[str, Any]
    versions: list[dict[str, Any]]
    rule: str
    citation: str
    schedule_version: str
    retain_until: date | None
    action: str
    proposed_by: str
    approved_by: str
    approval_reason: str
    executed_at: datetime
    transfer_key: str | None
    transfer_sha256: str | None

    @classmethod
    def of(cls, row: DisposalRecord) -> DisposalRecordPublic:
        """Build from a row."""
        return cls(
            record_id=row.record_id,
            disposition_id=row.disposition_id,
            title=row.title,
            record_type=row.record_type,
            contract=row.contract_ref,
            metadata=json.loads(row.metadata_json),
            versions=json.loads(row.versions_json),
            rule=row.rule,
            citation=row.citation,
            schedule_version=row.schedule_version,
            retain_until=row.retain_until,
            action=row.action,
            proposed_by=row.proposed_by,
            approved_by=row.approved_by,
            approval_reason=row.approval_reason,
            executed_at=row.executed_at,
            transfer_key=row.transfer_key,
            transfer_sha256=row.transfer_sha256,
        )


class FindingPublic(BaseModel):
    """One finding of the retention job."""

    id: int
    kind: FindingKind
    subject: str
    key: str
    contract: str | None
    record_id: str | None
    summary: str
    details: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    open: bool

    @classmethod
    def of(cls, row: Finding) -> FindingPublic:
        """Build from a row."""
        assert row.id is not None
        return cls(
            id=row.id,
            kind=FindingKind(row.kind),
            subject=row.subject,
            key=row.key,
            contract=row.contract_ref,
            record_id=row.record_id,
            summary=row.summary,
            details=json.loads(row.details),
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            resolved_at=row.resolved_at,
            open=row.resolved_at is None,
        )


class RunRequest(BaseModel):
    """Options of a retention run started through the API."""

    model_config = ConfigDict(extra="forbid")

    at: SafeDate | None = Field(None, description="Evaluate as of this day; default today.")
    dry_run: bool = Field(False, description="Report what would change, change nothing.")


class ObjectLockPublic(BaseModel):
    """What was last mirrored onto the record's stored objects."""

    retain_until: date | None
    legal_hold: bool
    versions: int
    mirrored_at: datetime


class RecordRetentionPublic(BaseModel):
    """A record's computed retention, what is due for it today, its holds and disposal."""

    record_id: str
    status: str
    record_type: str
    action: str | None
    citation: str | None
    retain_until: date | None
    retention_kind: Literal["date", "permanent", "unknown"]
    retention_reason: str
    decision: str
    decision_reason: str
    on_hold: bool
    holds: list[HoldPublic]
    dispositions: list[DispositionPublic]
    disposal: DisposalRecordPublic | None
    object_lock: ObjectLockPublic | None


class GapCreate(BaseModel):
    """A record known to have existed and to be missing from a contract's file."""

    model_config = ConfigDict(extra="forbid")

    record_type: Identifier = Field(min_length=1, examples=["monitoring_return"])
    period_start: SafeDate = Field(description="First day of the period the record covered.")
    period_end: SafeDate = Field(description="Last day of that period.")
    reason: GapReason = Field(
        description="What happened: lost, never_made, destroyed_early (before the "
        "schedule allowed) or held_by_provider."
    )
    evidence: Note = Field(min_length=3, description="What shows the record existed and why.")
    reported_by: Label = Field(min_length=1, description="Who reported the gap.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class GapClose(BaseModel):
    """Closing a known gap: the record, now found and on the file, that fills it."""

    model_config = ConfigDict(extra="forbid")

    found_record: Identifier = Field(min_length=1, max_length=32, description="Record id.")
    note: Note | None = None


class GapPublic(BaseModel):
    """A known gap as the API returns it."""

    id: int
    contract: str
    record_type: str
    period_start: date
    period_end: date
    reason: GapReason
    evidence: str
    reported_by: str
    recorded_by: str
    recorded_at: datetime
    state: Literal["open", "closed"]
    closed_by: str | None
    closed_at: datetime | None
    found_record: str | None
    close_note: str | None
