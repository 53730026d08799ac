"""Approving disposals with care: what an approval would destroy or transfer, and many at once.

Both faces show a person exactly what approving will remove before they confirm:
:func:`preview_approvals` lists, for each chosen disposition, the record, its contract
and every stored version, or says in words why this person cannot approve it now (it
was their own proposal, it is no longer awaiting a decision, a hold or the retention
period stops it). :func:`approve_many` then approves each one through
:func:`~records_service.retention.dispositions.decide_disposition`, so every approval
follows the same rules and is audited on its own; one that is refused leaves the
others done and is reported with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from records_service.auth.models import User
from records_service.errors import DomainError
from records_service.records.models import Record, Version
from records_service.records.service import contract_reference, versions_of, visible_clause
from records_service.retention.dispositions import (
    DisposalContext,
    DisposalRefused,
    check_disposable,
    decide_disposition,
)
from records_service.retention.models import Disposition, DispositionStatus
from records_service.retention.schedule import RetentionSchedule


@dataclass(frozen=True)
class ApprovalPreview:
    """One disposition as its approver sees it before confirming."""

    disposition: Disposition
    title: str
    record_type: str
    contract: str | None
    versions: list[Version]
    refusal: str | None  # why this person cannot approve it now; None if they can

    @property
    def total_size(self) -> int:
        """Bytes of stored content the approval removes."""
        return sum(version.size for version in self.versions)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What happened to one disposition of a bulk approval."""

    disposition_id: int
    title: str
    status: str | None  # "executed", or "approved" when carrying it out failed
    error: str | None  # the refusal or the failure, in words


def _refusal(
    session: Session,
    disposition: Disposition,
    record: Record | None,
    user: User,
    schedule: RetentionSchedule,
    today: date,
) -> str | None:
    if disposition.status != DispositionStatus.PROPOSED.value:
        return f"It is {disposition.status}, no longer awaiting a decision."
    if disposition.proposed_by == user.username:
        return "You proposed it, so a second person must approve it."
    if record is None:
        return "You cannot see this record."
    try:
        check_disposable(session, record, schedule, today)
    except DisposalRefused as exc:
        words = exc.detail.replace(f"record {record.id}", "this record", 1)
        return f"{words[:1].upper()}{words[1:]}."
    return None


def preview_approvals(
    session: Session,
    disposition_ids: Sequence[int],
    user: User,
    schedule: RetentionSchedule,
    today: date,
) -> list[ApprovalPreview]:
    """The chosen dispositions (unknown ids left out), in the order given, with what each
    approval would remove and whether ``user`` may approve it today."""
    wanted = list(dict.fromkeys(disposition_ids))
    found = {
        d.id: d for d in session.exec(select(Disposition).where(col(Disposition.id).in_(wanted)))
    }
    records = {
        r.id: r
        for r in session.exec(
            select(Record).where(
                col(Record.id).in_({d.record_id for d in found.values()}), visible_clause(user)
            )
        )
    }
    previews = []
    for disposition_id in wanted:
        disposition = found.get(disposition_id)
        if disposition is None:
            continue
        record = records.get(disposition.record_id)
        previews.append(
            ApprovalPreview(
                disposition=disposition,
                title=record.title if record else f"Record {disposition.record_id}",
                record_type=record.record_type if record else "",
                contract=contract_reference(session, record.contract_id) if record else None,
                versions=versions_of(session, record.id) if record else [],
                refusal=_refusal(session, disposition, record, user, schedule, today),
            )
        )
    return previews


def approve_many(
    ctx: DisposalContext, previews: Sequence[ApprovalPreview], *, reason: str, actor: User
) -> list[ApprovalOutcome]:
    """Approve and carry out each previewed disposition that ``actor`` may approve, one
    transaction and one audit trail each; refusals are reported, not raised."""
    outcomes = []
    for preview in previews:
        disposition_id = preview.disposition.id
        assert disposition_id is not None
        if preview.refusal is not None:
            outcomes.append(ApprovalOutcome(disposition_id, preview.title, None, preview.refusal))
            continue
        try:
            done = decide_disposition(
                ctx, disposition_id=disposition_id, approve=True, reason=reason, actor=actor
            )
        except DomainError as exc:
            outcomes.append(ApprovalOutcome(disposition_id, preview.title, None, exc.detail))
            continue
        outcomes.append(ApprovalOutcome(disposition_id, preview.title, done.status, done.error))
    return outcomes
