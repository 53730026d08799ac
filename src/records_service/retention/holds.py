"""Placing, releasing and listing holds on records and whole contracts.

A hold (an FOI request, litigation, an audit) blocks disposal of every record it
covers until it is released (FOIA s77). Each place and release is audited in the
same transaction, which also queues its write-once hold note for the blob store
(:mod:`records_service.notes`), so that a recovery from the store brings holds
back. After the commit, the legal hold is mirrored onto the stored
objects where the store has object lock; a failure there is logged and retried
by the retention job, because the database hold is what disposal checks.
Role checks (``manage_retention``) are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, GenericPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.contracts.service import get_contract
from records_service.db import session_scope
from records_service.errors import Conflict, NotFound
from records_service.notes.queue import queue_note
from records_service.pagination import PageParams
from records_service.records.models import DISPOSED_STATUSES, Record
from records_service.retention.facts import lock_contract, lock_record
from records_service.retention.models import Hold, HoldScope
from records_service.retention.object_lock import sync_legal_holds
from records_service.retention.schemas import HoldCreate, HoldPublic, RecordHoldsCreate
from records_service.storage import BlobStore, RetentionMode


@dataclass(frozen=True)
class HoldContext:
    """What hold placement and release need besides the request."""

    engine: Engine
    store: BlobStore
    clock: Clock
    retention_mode: RetentionMode


def covered_records(session: Session, hold: Hold) -> list[str]:
    """Ids of the records ``hold`` covers that still have content."""
    if hold.scope == HoldScope.RECORD.value:
        return [hold.record_id] if hold.record_id else []
    statement = select(Record.id).where(
        Record.contract_id == hold.contract_id, col(Record.status).not_in(DISPOSED_STATUSES)
    )
    return list(session.exec(statement.order_by(col(Record.id))))


def _new_hold(session: Session, request: HoldCreate, actor: User, clock: Clock) -> Hold:
    hold = Hold(
        scope=HoldScope.RECORD.value,
        reference=request.reference,
        reason=request.reason,
        placed_by=actor.username,
        placed_at=clock(),
    )
    if request.record_id is not None:
        record = lock_record(session, request.record_id)
        if record.status in DISPOSED_STATUSES:
            raise Conflict(f"record {record.id} has already been {record.status}")
        hold.record_id = record.id
    else:
        assert request.contract is not None
        contract = get_contract(session, request.contract)
        assert contract.id is not None
        lock_contract(session, contract.id)
        hold.scope, hold.contract_id = HoldScope.CONTRACT.value, contract.id
    session.add(hold)
    session.flush()
    return hold


def place_hold(ctx: HoldContext, *, request: HoldCreate, actor: User) -> HoldPublic:
    """Place a hold on a record or a contract, audit it, then mirror it onto the objects."""
    with session_scope(ctx.engine) as session:
        hold = _new_hold(session, request, actor, ctx.clock)
        public = _public(session, hold)
        _audit_placed(session, hold, public, actor, ctx.clock)
        records = covered_records(session, hold)
    sync_legal_holds(ctx.engine, ctx.store, records, mode=ctx.retention_mode, clock=ctx.clock)
    return public


def place_record_holds(
    ctx: HoldContext, *, request: RecordHoldsCreate, actor: User
) -> list[HoldPublic]:
    """Place one hold per record in ``request`` (one case reference for all), each audited,
    in one transaction: a record that cannot be held refuses the batch."""
    placed: list[HoldPublic] = []
    with session_scope(ctx.engine) as session:
        for record_id in dict.fromkeys(request.record_ids):
            single = HoldCreate(
                record_id=record_id, reference=request.reference, reason=request.reason
            )
            hold = _new_hold(session, single, actor, ctx.clock)
            public = _public(session, hold)
            _audit_placed(session, hold, public, actor, ctx.clock)
            placed.append(public)
    records = [hold.record_id for hold in placed if hold.record_id]
    sync_legal_holds(ctx.engine, ctx.store, records, mode=ctx.retention_mode, clock=ctx.clock)
    return placed


def _audit_placed(
    session: Session, hold: Hold, public: HoldPublic, actor: User, clock: Clock
) -> None:
    entry = record_event(
        session,
        actor=actor.username,
        action=AuditAction.HOLD_PLACE,
        subject=_subject(public),
        payload=GenericPayload(
            hold=hold.id, scope=hold.scope, reference=hold.reference, reason=hold.reason
        ),
        clock=clock,
    )
    _queue_hold_note(session, public, "placed", entry.idx, clock)


def _queue_hold_note(
    session: Session, public: HoldPublic, event: str, sequence: int, clock: Clock
) -> None:
    """Queue the write-once note of a hold placed or released, so that recovery from the
    store brings holds back (``sequence``, the audit entry's index, orders the notes)."""
    hold = public.model_dump(exclude={"id", "active"})
    fields = {"event": event, "sequence": sequence, "hold": hold}
    queue_note(session, "hold", fields, sequence=sequence, clock=clock)


def release_hold(ctx: HoldContext, *, hold_id: int, reason: str, actor: User) -> HoldPublic:
    """Release an active hold, audit it, then lift legal holds no other hold still needs."""
    with session_scope(ctx.engine) as session:
        hold = session.exec(select(Hold).where(Hold.id == hold_id).with_for_update()).first()
        if hold is None:
            raise NotFound(f"no hold {hold_id}")
        if hold.released_at is not None:
            raise Conflict(f"hold {hold_id} was already released")
        hold.released_at, hold.released_by, hold.release_reason = (
            ctx.clock(),
            actor.username,
            reason,
        )
        session.add(hold)
        public = _public(session, hold)
        entry = record_event(
            session,
            actor=actor.username,
            action=AuditAction.HOLD_RELEASE,
            subject=_subject(public),
            payload=GenericPayload(hold=hold.id, reference=hold.reference, reason=reason),
            clock=ctx.clock,
        )
        _queue_hold_note(session, public, "released", entry.idx, ctx.clock)
        records = covered_records(session, hold)
    sync_legal_holds(ctx.engine, ctx.store, records, mode=ctx.retention_mode, clock=ctx.clock)
    return public


def _subject(hold: HoldPublic) -> str:
    return f"record:{hold.record_id}" if hold.record_id else f"contract:{hold.contract}"


def _public(session: Session, hold: Hold) -> HoldPublic:
    contract = session.get(Contract, hold.contract_id) if hold.contract_id else None
    return HoldPublic.of(hold, contract.reference if contract else None)


@dataclass(frozen=True)
class HoldFilters:
    """Filters for listing holds."""

    active: bool | None = None
    record_id: str | None = None
    contract: str | None = None


def list_holds(
    session: Session, *, filters: HoldFilters, page: PageParams
) -> tuple[list[HoldPublic], int]:
    """A page of holds, newest first, and the total."""
    statement = select(Hold)
    if filters.active is not None:
        released = col(Hold.released_at)
        statement = statement.where(released.is_(None) if filters.active else released.is_not(None))
    if filters.record_id:
        statement = statement.where(Hold.record_id == filters.record_id)
    if filters.contract:
        contract = get_contract(session, filters.contract)
        statement = statement.where(Hold.contract_id == contract.id)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Hold.id).desc()).offset(page.offset).limit(page.page_size)
    )
    return [_public(session, hold) for hold in rows], int(total)


def holds_of_record(session: Session, record: Record) -> list[HoldPublic]:
    """Every hold, active or released, that covers ``record``, oldest first."""
    statement = select(Hold).where(Hold.record_id == record.id)
    if record.contract_id is not None:
        statement = select(Hold).where(
            (col(Hold.record_id) == record.id) | (col(Hold.contract_id) == record.contract_id)
        )
    return [_public(session, hold) for hold in session.exec(statement.order_by(col(Hold.id)))]
