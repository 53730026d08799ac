"""Dispositions: proposing, approving or rejecting, and executing the end of a record's life.

The rules kept here, whatever the route:

* nothing is proposed, approved or executed for a permanent record, a record
  under a hold (on it or on its contract), or one whose retention has not ended;
  approval and execution check again inside their own transaction, after locking
  the record and its contract (the locks hold placement also takes);
* a decision (approval or rejection) is never taken by the proposer (the job
  proposes as the user who ran it, or as ``system``): the proposer asks a second
  person, who either agrees or stops the disposal;
* execution deletes every version's content and sidecar, then in one transaction
  queues the removal of the record's copies from the replica (if there is one),
  writes the tombstone, marks the record disposed (or transferred), drops its
  extracted text, queues its removal from the index and audits the execution. A
  store that refuses a delete (object lock) leaves the disposition approved with
  the error recorded, and nothing is deleted.

Role checks (``manage_retention``) are the caller's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, GenericPayload
from records_service.audit.log import entries_for_subject, format_time, record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.service import contract_details
from records_service.db import session_scope
from records_service.errors import Conflict, DomainError, NotFound, PermissionDenied
from records_service.notes.queue import queue_note
from records_service.pagination import PageParams
from records_service.records.models import (
    DISPOSED_STATUSES,
    IndexTask,
    Record,
    RecordStatus,
    Version,
    VersionText,
)
from records_service.records.replica import purge_later
from records_service.records.service import contract_reference, record_tags, versions_of
from records_service.records.sidecars import change_notes_prefix, drop_pending, sidecar_key
from records_service.retention._transfer import PackageVersion, TransferError, write_package
from records_service.retention.facts import active_holds_for, facts_for, lock_record, utc_date
from records_service.retention.findings import resolve_for_record
from records_service.retention.models import (
    DisposalAction,
    DisposalRecord,
    Disposition,
    DispositionStatus,
    LockMirror,
)
from records_service.retention.policy import RetentionDate, retain_until
from records_service.retention.schedule import RetentionSchedule
from records_service.storage import BlobStore, ObjectLocked, ObjectNotFound, StorageError


class DisposalRefused(Conflict):
    """Disposal is not allowed for this record now (hold, permanent, retention running)."""

    type_slug = "disposal-refused"
    title = "Disposal refused"


@dataclass(frozen=True)
class DisposalContext:
    """What deciding and executing dispositions need."""

    engine: Engine
    store: BlobStore
    schedule: RetentionSchedule
    clock: Clock
    transfer_dir: Path | None = None
    # A replica is configured: the record's copies there are removed too (queued).
    replicate: bool = False


def check_disposable(
    session: Session, record: Record, schedule: RetentionSchedule, today: date
) -> RetentionDate:
    """Refuse unless ``record`` may be disposed of today; returns its retention date."""
    if record.status in DISPOSED_STATUSES:
        raise DisposalRefused(f"record {record.id} has already been {record.status}")
    holds = active_holds_for(session, record)
    if holds:
        references = ", ".join(hold.reference for hold in holds)
        raise DisposalRefused(f"record {record.id} is under hold ({references})")
    until = retain_until(facts_for(session, record), schedule)
    if until.kind == "permanent":
        raise DisposalRefused(f"record {record.id} is kept permanently: {until.reason}")
    if until.until is None:
        raise DisposalRefused(f"record {record.id}: retention end unknown ({until.reason})")
    if today <= until.until:
        raise DisposalRefused(f"record {record.id} is retained until {until.until}")
    return until


def add_proposal(
    session: Session,
    *,
    record_id: str,
    action: str,
    rule: str,
    until: date | None,
    reason: str,
    actor: str,
    clock: Clock,
) -> Disposition:
    """Insert a proposal and audit it (callers have checked that it is allowed)."""
    disposition = Disposition(
        record_id=record_id,
        action=action,
        rule=rule,
        retain_until=until,
        proposed_by=actor,
        proposed_at=clock(),
        proposal_reason=reason[:1000],
    )
    session.add(disposition)
    session.flush()
    record_event(
        session,
        actor=actor,
        action=AuditAction.DISPOSITION_PROPOSE,
        subject=f"record:{record_id}",
        payload=GenericPayload(
            disposition=disposition.id,
            action=action,
            rule=rule,
            retain_until=until.isoformat() if until else None,
            reason=reason,
        ),
        clock=clock,
    )
    return disposition


def open_disposition(session: Session, record_id: str) -> Disposition | None:
    """The record's proposed or approved (not yet executed) disposition, if any."""
    return session.exec(
        select(Disposition).where(
            Disposition.record_id == record_id,
            col(Disposition.status).in_(
                (DispositionStatus.PROPOSED.value, DispositionStatus.APPROVED.value)
            ),
        )
    ).first()


def propose_disposition(
    session: Session,
    *,
    record_id: str,
    action: DisposalAction,
    reason: str,
    actor: User,
    schedule: RetentionSchedule,
    clock: Clock,
) -> Disposition:
    """A records manager's own proposal (after a review), under the same rules as the job's."""
    record = lock_record(session, record_id)
    until = check_disposable(session, record, schedule, clock().date())
    if open_disposition(session, record_id) is not None:
        raise Conflict(f"record {record_id} already has an open disposition")
    return add_proposal(
        session,
        record_id=record_id,
        action=action.value,
        rule=record.record_type,
        until=until.until,
        reason=reason,
        actor=actor.username,
        clock=clock,
    )


def _locked_disposition(session: Session, disposition_id: int) -> Disposition:
    disposition = session.exec(
        select(Disposition).where(Disposition.id == disposition_id).with_for_update()
    ).first()
    if disposition is None:
        raise NotFound(f"no disposition {disposition_id}")
    return disposition


def decide_disposition(
    ctx: DisposalContext, *, disposition_id: int, approve: bool, reason: str, actor: User
) -> Disposition:
    """Approve (then execute) or reject a proposal; the decider is never the proposer.

    After an approval the disposal is executed at once; if that fails the
    disposition stays approved with its ``error`` set (see :func:`execute_disposition`).
    """
    with session_scope(ctx.engine) as session:
        disposition = _locked_disposition(session, disposition_id)
        if disposition.status != DispositionStatus.PROPOSED.value:
            raise Conflict(f"disposition {disposition_id} is {disposition.status}, not proposed")
        if disposition.proposed_by == actor.username:
            raise PermissionDenied(
                f"disposition {disposition_id} was proposed by {actor.username}; "
                "only a second person may approve or reject it"
            )
        if approve:
            record = lock_record(session, disposition.record_id)
            check_disposable(session, record, ctx.schedule, ctx.clock().date())
        _record_decision(session, disposition, approve, reason, actor.username, ctx.clock)
    if not approve:
        return disposition
    return execute_disposition(ctx, disposition_id=disposition_id, actor=actor.username)


def _record_decision(
    session: Session, disposition: Disposition, approve: bool, reason: str, actor: str, clock: Clock
) -> None:
    status = DispositionStatus.APPROVED if approve else DispositionStatus.REJECTED
    disposition.status = status.value
    disposition.decision = "approve" if approve else "reject"
    disposition.decided_by, disposition.decided_at, disposition.reason = actor, clock(), reason
    session.add(disposition)
    record_event(
        session,
        actor=actor,
        action=AuditAction.DISPOSITION_APPROVE if approve else AuditAction.DISPOSITION_REJECT,
        subject=f"record:{disposition.record_id}",
        payload=GenericPayload(
            disposition=disposition.id,
            action=disposition.action,
            proposed_by=disposition.proposed_by,
            reason=reason,
        ),
        clock=clock,
    )


def execute_disposition(ctx: DisposalContext, *, disposition_id: int, actor: str) -> Disposition:
    """Carry out an approved disposition; on refusal or failure record why and keep it approved.

    Returns the disposition: ``executed``, or ``approved`` with ``error`` set.
    """
    try:
        with session_scope(ctx.engine) as session:
            disposition = _locked_disposition(session, disposition_id)
            if disposition.status != DispositionStatus.APPROVED.value:
                raise Conflict(
                    f"disposition {disposition_id} is {disposition.status}, not approved"
                )
            _execute(session, ctx, disposition, actor)
            return disposition
    except (DisposalRefused, StorageError, TransferError) as exc:
        message = exc.detail if isinstance(exc, DomainError) else str(exc)
        return _record_error(ctx, disposition_id, _explain(exc, message))


def _explain(exc: Exception, message: str) -> str:
    if isinstance(exc, ObjectLocked):
        return f"the store refused to delete locked content: {message}; nothing was deleted"
    if isinstance(exc, StorageError):
        return f"storage failure during disposal: {message}"
    return message


def _record_error(ctx: DisposalContext, disposition_id: int, message: str) -> Disposition:
    with session_scope(ctx.engine) as session:
        disposition = _locked_disposition(session, disposition_id)
        disposition.error = message[:1000]
        session.add(disposition)
        return disposition


def _execute(session: Session, ctx: DisposalContext, disposition: Disposition, actor: str) -> None:
    record = lock_record(session, disposition.record_id)
    # Sidecars not yet written never will be; a worker already writing one deletes it
    # again when it finds its queue row gone with the record disposed of.
    drop_pending(session, record.id)
    now = ctx.clock()
    if ctx.replicate:  # the copies go too, through the replica queue, once this commits
        purge_later(session, record.id, now)
    until = check_disposable(session, record, ctx.schedule, utc_date(now))
    versions = versions_of(session, record.id)
    transfer = None
    if disposition.action == DisposalAction.TRANSFER.value:
        transfer = write_package(
            ctx.store,
            name=f"disposition-{disposition.id}.zip",
            record_id=record.id,
            manifest=_manifest(session, record, versions, disposition, ctx, now),
            versions=[
                PackageVersion(v.number, v.storage_key, v.sha256, v.original_filename)
                for v in versions
            ],
            directory=ctx.transfer_dir,
        )
    notes = list(ctx.store.list(change_notes_prefix(record.id)))
    delete_content(ctx.store, [v.storage_key for v in versions], notes)
    tombstone = _tombstone(session, record, versions, disposition, ctx.schedule, until, now)
    if transfer is not None:
        tombstone.transfer_key, tombstone.transfer_sha256 = transfer.location, transfer.sha256
    session.add(tombstone)
    note = _disposal_note(session, record, versions, disposition, tombstone, actor)
    retire_record(session, record, disposition, versions, now)
    assert disposition.id is not None
    queue_note(
        session, "disposal", note, sequence=disposition.id, clock=ctx.clock, record_id=record.id
    )
    record_event(
        session,
        actor=actor,
        action=AuditAction.DISPOSITION_EXECUTE,
        subject=f"record:{record.id}",
        payload=GenericPayload(
            disposition=disposition.id,
            action=disposition.action,
            rule=tombstone.rule,
            proposed_by=disposition.proposed_by,
            approved_by=tombstone.approved_by,
            versions=[{"number": v.number, "sha256": v.sha256} for v in versions],
            transfer=tombstone.transfer_key,
        ),
        clock=ctx.clock,
    )


def delete_content(store: BlobStore, content_keys: list[str], notes: list[str]) -> None:
    """Delete every version, sidecar and change note (``notes``), refusing before
    deleting anything if one is locked.

    Keys already gone (a retry after a partial failure) are skipped.
    """
    keys = [k for key in content_keys for k in (key, sidecar_key(key))] + notes
    if store.supports_object_lock:
        # The store enforces locks by its own clock, not the service's injected one.
        now = datetime.now(UTC)
        for key in keys:
            try:
                info = store.stat(key)
            except ObjectNotFound:
                continue
            if info.legal_hold or (info.retain_until is not None and info.retain_until > now):
                raise ObjectLocked(f"{key!r} is under retention or legal hold in the store")
    for key in keys:
        try:
            store.delete(key)
        except ObjectNotFound:
            continue


def _tombstone(
    session: Session,
    record: Record,
    versions: list[Version],
    disposition: Disposition,
    schedule: RetentionSchedule,
    until: RetentionDate,
    now: datetime,
) -> DisposalRecord:
    rule = schedule.rule_for(record.record_type)
    assert disposition.id is not None
    return DisposalRecord(
        record_id=record.id,
        disposition_id=disposition.id,
        title=record.title,
        record_type=record.record_type,
        contract_ref=contract_reference(session, record.contract_id),
        metadata_json=json.dumps(record_facts(session, record), sort_keys=True, default=str),
        versions_json=json.dumps([version_facts(v) for v in versions], default=str),
        rule=rule.key,
        citation=rule.citation,
        schedule_version=schedule.version,
        retain_until=until.until,
        action=disposition.action,
        proposed_by=disposition.proposed_by,
        approved_by=disposition.decided_by or "?",
        approval_reason=disposition.reason or "",
        executed_at=now,
    )


def _disposal_note(
    session: Session,
    record: Record,
    versions: list[Version],
    disposition: Disposition,
    tombstone: DisposalRecord,
    actor: str,
) -> dict[str, Any]:
    """What the disposal note keeps: enough to bring the record back as disposed of,
    with its disposition and tombstone, into a database that lacks them."""
    reference = contract_reference(session, record.contract_id)
    names = _user_names(session, [record.captured_by_id, *(v.captured_by_id for v in versions)])
    return {
        "record_id": record.id,
        "record": {
            **_fields_of(record, reference, record_tags(session, record.id)),
            "captured_at": record.captured_at,
            "captured_by": names[record.captured_by_id],
            "current_version": record.current_version,
            "versions": [
                {
                    **version_facts(v),
                    "storage_key": v.storage_key,
                    "text_status": v.text_status,
                    "text_reason": v.text_reason,
                    "captured_by": names[v.captured_by_id],
                }
                for v in versions
            ],
            "contract_details": contract_details(session, reference)[1] if reference else None,
        },
        "disposition_id": disposition.id,
        "action": disposition.action,
        "rule": tombstone.rule,
        "citation": tombstone.citation,
        "schedule_version": tombstone.schedule_version,
        "retain_until": tombstone.retain_until,
        "proposed_by": disposition.proposed_by,
        "proposed_at": disposition.proposed_at,
        "proposal_reason": disposition.proposal_reason,
        "decision": disposition.decision or "approve",
        "approved_by": tombstone.approved_by,
        "decided_at": disposition.decided_at,
        "reason": tombstone.approval_reason,
        "executed_at": tombstone.executed_at,
        "executed_by": actor,
        "transfer_key": tombstone.transfer_key,
        "transfer_sha256": tombstone.transfer_sha256,
    }


def _fields_of(record: Record, contract: str | None, tags: list[str]) -> dict[str, Any]:
    return {
        "title": record.title,
        "record_type": record.record_type,
        "contract": contract,
        "tags": tags,
        "classification": record.classification,
        "originator": record.originator,
        "record_date": record.record_date,
    }


def _user_names(session: Session, user_ids: list[int]) -> dict[int, str]:
    rows = session.exec(select(User.id, User.username).where(col(User.id).in_(set(user_ids))))
    return {uid: name for uid, name in rows if uid is not None}


def record_facts(session: Session, record: Record) -> dict[str, Any]:
    """The record's facts a tombstone and a transfer manifest keep."""
    return {
        "classification": record.classification,
        "originator": record.originator,
        "record_date": record.record_date.isoformat(),
        "tags": record_tags(session, record.id),
        "captured_at": record.captured_at.isoformat(),
        "captured_by_id": record.captured_by_id,
        "current_version": record.current_version,
    }


def version_facts(version: Version) -> dict[str, Any]:
    """A version's facts as a tombstone, a transfer manifest and a disposal note keep them."""
    return {
        "number": version.number,
        "sha256": version.sha256,
        "size": version.size,
        "media_type": version.media_type,
        "filename": version.original_filename,
        "captured_at": version.captured_at.isoformat(),
    }


def retire_record(
    session: Session,
    record: Record,
    disposition: Disposition,
    versions: list[Version],
    now: datetime,
) -> None:
    """Mark the record disposed of (or transferred) and the disposition executed at ``now``;
    drop what must not outlive the content (its text, lock mirror, index entry, findings)."""
    transferred = disposition.action == DisposalAction.TRANSFER.value
    record.status = (RecordStatus.TRANSFERRED if transferred else RecordStatus.DISPOSED).value
    record.updated_at = now
    session.add(record)
    version_ids = [v.id for v in versions if v.id is not None]
    if version_ids:
        # Extracted text must not outlive the content it came from.
        session.execute(delete(VersionText).where(col(VersionText.version_id).in_(version_ids)))
    mirror = session.get(LockMirror, record.id)
    if mirror is not None:
        session.delete(mirror)
    session.add(IndexTask(record_id=record.id, op="remove", enqueued_at=now))
    disposition.status, disposition.executed_at = DispositionStatus.EXECUTED.value, now
    disposition.error = None
    session.add(disposition)
    resolve_for_record(session, record.id, now)


def _manifest(
    session: Session,
    record: Record,
    versions: list[Version],
    disposition: Disposition,
    ctx: DisposalContext,
    now: datetime,
) -> dict[str, Any]:
    history = entries_for_subject(session, f"record:{record.id}")
    rule = ctx.schedule.rule_for(record.record_type)
    return {
        "record": {
            "id": record.id,
            "title": record.title,
            "record_type": record.record_type,
            "contract": contract_reference(session, record.contract_id),
            **record_facts(session, record),
        },
        "versions": [
            {**version_facts(v), "path": f"content/v{v.number}/{v.original_filename}"}
            for v in versions
        ],
        "rule": rule.to_dict(),
        "schedule": {"title": ctx.schedule.title, "version": ctx.schedule.version},
        "disposition": {
            "id": disposition.id,
            "proposed_by": disposition.proposed_by,
            "approved_by": disposition.decided_by,
            "reason": disposition.reason,
        },
        "audit": [
            {
                "index": entry.idx,
                "at": format_time(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "details": json.loads(entry.details),
            }
            for entry in history
        ],
        "exported_at": now.isoformat(),
    }


@dataclass(frozen=True)
class DispositionFilters:
    """Filters for listing dispositions."""

    status: DispositionStatus | None = None
    record_id: str | None = None


def list_dispositions(
    session: Session, *, filters: DispositionFilters, page: PageParams
) -> tuple[list[Disposition], int]:
    """A page of dispositions, newest first, and the total."""
    statement = select(Disposition)
    if filters.status is not None:
        statement = statement.where(Disposition.status == filters.status.value)
    if filters.record_id:
        statement = statement.where(Disposition.record_id == filters.record_id)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Disposition.id).desc()).offset(page.offset).limit(page.page_size)
    )
    return list(rows), int(total)


def get_disposition(session: Session, disposition_id: int) -> Disposition:
    """One disposition; raises ``NotFound``."""
    disposition = session.get(Disposition, disposition_id)
    if disposition is None:
        raise NotFound(f"no disposition {disposition_id}")
    return disposition


def list_disposals(
    session: Session, *, contract: str | None, page: PageParams
) -> tuple[list[DisposalRecord], int]:
    """A page of disposal records (tombstones), newest first, and the total."""
    statement = select(DisposalRecord)
    if contract:
        statement = statement.where(DisposalRecord.contract_ref == contract)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(DisposalRecord.id).desc()).offset(page.offset).limit(page.page_size)
    )
    return list(rows), int(total)


def disposal_of(session: Session, record_id: str) -> DisposalRecord | None:
    """The tombstone of a record, if it has been disposed of."""
    return session.exec(select(DisposalRecord).where(DisposalRecord.record_id == record_id)).first()
