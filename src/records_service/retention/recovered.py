"""Bringing disposals and holds back from the store's notes (``recover --from-store``).

Holds: each hold a hold note names comes back (matched by scope, record or
contract, case reference, who placed it and when, since row ids are numbered
anew), released if a later note says so; a hold the database holds as active is
released only by a note of its release. Holds are applied after disposals.

A disposal deletes the record's objects, so without its note a database restored
from a copy taken before it (or an empty one) would not know it happened: the
record would stay active, or vanish. Each disposal note carries the record's row,
its versions, the disposition and its decision. For a record the database lacks,
the row comes back disposed of (or transferred) with its versions, disposition
and tombstone; for one it holds as active, the disposition is completed and the
record retired as the disposal did. A record the database already holds as
disposed of is left as it is. Objects of a disposed record that a restore put back
into the store are deleted again, whether the note was applied now or before
(refused, and reported, if the store locks them).
Placeholder accounts and contracts the notes name are made first, by
:mod:`records_service.records.recovery`.

Each note is applied in its own transaction together with its audit entry
(``disposition.recover``, ``hold.recover``), so a run that stops part-way leaves
no change in the database that the log does not record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from records_service.audit.actions import (
    AuditAction,
    DisposalRecoveredPayload,
    HoldRecoveredPayload,
    LeftoversDeletedPayload,
    Payload,
)
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.service import contract_id
from records_service.db import session_scope
from records_service.errors import NotFound
from records_service.notes.read import DisposalNote, HoldNote, NotedHold
from records_service.records.models import (
    DISPOSED_STATUSES,
    Classification,
    Record,
    RecordTag,
    TextStatus,
    Version,
)
from records_service.records.service import versions_of
from records_service.records.sidecars import drop_pending
from records_service.retention.dispositions import (
    delete_content,
    open_disposition,
    record_facts,
    retire_record,
    version_facts,
)
from records_service.retention.models import (
    DisposalRecord,
    Disposition,
    DispositionStatus,
    Hold,
)
from records_service.storage import BlobStore, StorageError


@dataclass(frozen=True)
class DisposalBack:
    """A disposal recovery applied: the record now stands disposed of (or transferred)."""

    record_id: str
    disposition_id: int  # as the note gives it; the database may number it anew
    action: str
    executed_at: str
    approved_by: str
    reason: str
    added: bool  # the record itself came back from the note (the database lacked it)
    objects_deleted: int  # its objects a restore had put back, deleted again


@dataclass(frozen=True)
class LeftoversDeleted:
    """Objects of a record the database already held as disposed of that a restore had
    put back into the store, deleted again."""

    record_id: str
    objects_deleted: int


@dataclass
class RetentionRecovered:
    """What the notes brought back of retention: disposals and holds, and problems."""

    disposals: list[DisposalBack] = field(default_factory=list)
    leftovers_deleted: list[LeftoversDeleted] = field(default_factory=list)
    holds_added: list[str] = field(default_factory=list)  # "<reference> on <what>"
    holds_released: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, problem)

    @property
    def changed_anything(self) -> bool:
        """Whether the database or the store changed."""
        return bool(
            self.disposals or self.leftovers_deleted or self.holds_added or self.holds_released
        )


@dataclass(frozen=True)
class AppliedBy:
    """Whom the audit entry of each applied note names, and the clock that dates it."""

    actor: str
    clock: Clock

    def audit(self, session: Session, action: AuditAction, subject: str, payload: Payload) -> None:
        """Write one entry of the recovery in ``session``'s transaction."""
        record_event(
            session,
            actor=self.actor,
            action=action,
            subject=subject,
            payload=payload,
            clock=self.clock,
        )


_HoldId = tuple[str, str | None, str | None, str, str, datetime]


def _hold_id(hold: NotedHold) -> _HoldId:
    """What tells one hold from another across databases (row ids are numbered anew)."""
    return (
        hold.scope,
        hold.record_id,
        hold.contract,
        hold.reference,
        hold.placed_by,
        hold.placed_at,
    )


def _latest_holds(notes: list[tuple[str, HoldNote]]) -> dict[_HoldId, tuple[str, NotedHold]]:
    """Each hold as its notes last left it: released once any note says so."""
    latest: dict[_HoldId, tuple[str, NotedHold]] = {}
    for key, note in sorted(notes, key=lambda item: item[1].sequence):
        held = latest.get(_hold_id(note.hold))
        if held is None or held[1].released_at is None:
            latest[_hold_id(note.hold)] = (key, note.hold)
    return latest


def apply_hold_notes(
    engine: Engine,
    notes: list[tuple[str, HoldNote]],
    outcome: RetentionRecovered,
    by: AppliedBy,
) -> None:
    """Add the holds the database lacks, and release those the notes say were released,
    each with its audit entry in the same transaction.

    A hold protects records from disposal, so one the notes name on a record or
    contract the database does not hold is a problem, never dropped quietly.
    """
    for key, hold in _latest_holds(notes).values():
        with session_scope(engine) as session:
            try:
                what = _apply_hold(session, hold)
            except KeyError as exc:
                outcome.problems.append((key, f"hold {hold.reference} not recovered: {exc}"))
                continue
            if what:
                _audit_hold(session, key, hold, what, by)
        label = f"{hold.reference} on {hold.record_id or hold.contract}"
        if what == "added":
            outcome.holds_added.append(label)
        elif what == "released":
            outcome.holds_released.append(label)


def _apply_hold(session: Session, noted: NotedHold) -> str:
    """Bring the database's copy of one hold to ``noted``; says what was done."""
    contract_id = _contract_id(session, noted.contract)
    if noted.record_id is not None and session.get(Record, noted.record_id) is None:
        raise KeyError(f"no record {noted.record_id}")
    candidates = session.exec(
        select(Hold).where(
            Hold.scope == noted.scope,
            Hold.record_id == noted.record_id,
            Hold.contract_id == contract_id,
            Hold.reference == noted.reference,
            Hold.placed_by == noted.placed_by,
        )
    )
    held = next((h for h in candidates if h.placed_at == noted.placed_at), None)
    if held is None:
        fields = noted.model_dump(exclude={"contract"})
        session.add(Hold(**fields, contract_id=contract_id))
        return "added"
    if held.released_at is None and noted.released_at is not None:
        held.released_at, held.released_by = noted.released_at, noted.released_by
        held.release_reason = noted.release_reason
        session.add(held)
        return "released"
    return ""


def _audit_hold(session: Session, key: str, hold: NotedHold, change: str, by: AppliedBy) -> None:
    subject = f"record:{hold.record_id}" if hold.record_id else f"contract:{hold.contract}"
    payload = HoldRecoveredPayload(
        note=key,
        change=change,
        scope=hold.scope,
        reference=hold.reference,
        placed_by=hold.placed_by,
        placed_at=hold.placed_at.isoformat(),
        released_by=hold.released_by,
        released_at=hold.released_at.isoformat() if hold.released_at else None,
    )
    by.audit(session, AuditAction.HOLD_RECOVER, subject, payload)


def apply_disposal_notes(
    engine: Engine,
    store: BlobStore,
    notes: list[tuple[str, DisposalNote]],
    outcome: RetentionRecovered,
    by: AppliedBy,
) -> None:
    """Apply each disposal note the database does not reflect yet (see the module), and
    delete again what a restore put back of every record a note says was disposed of."""
    for key, note in notes:
        with session_scope(engine) as session:
            record = session.get(Record, note.record_id)
            disposed = record is not None and record.status in DISPOSED_STATUSES
            back = (
                None
                if disposed
                else _apply_disposal(session, store, (key, note), record, outcome, by)
            )
        if disposed:
            _delete_again(engine, store, (key, note), outcome, by)
        elif back is not None:
            outcome.disposals.append(back)


def _apply_disposal(
    session: Session,
    store: BlobStore,
    noted: tuple[str, DisposalNote],
    record: Record | None,
    outcome: RetentionRecovered,
    by: AppliedBy,
) -> DisposalBack | None:
    """Retire the record as the note says, delete its leftovers and audit both, in the
    caller's transaction; ``None`` (and a problem) for a note that cannot be applied.

    The leftovers go before the commit, as in a disposal: a crash in between leaves the
    record to be retired by the next run, never retired without its entry."""
    key, note = noted
    try:
        added = record is None
        record = record or _disposed_row(session, note)
    except (KeyError, ValueError) as exc:
        outcome.problems.append((key, f"disposal note unusable: {exc}"))
        session.rollback()
        return None
    _complete(session, record, note)
    back = _back(note, added, _delete_leftovers(store, note.record_id, outcome))
    payload = DisposalRecoveredPayload(
        note=key,
        disposition=note.disposition_id,
        action=note.action,
        executed_at=back.executed_at,
        executed_by=note.executed_by,
        approved_by=note.approved_by,
        reason=note.reason,
        added=added,
        objects_deleted=back.objects_deleted,
    )
    by.audit(session, AuditAction.DISPOSITION_RECOVER, f"record:{note.record_id}", payload)
    return back


def _delete_again(
    engine: Engine,
    store: BlobStore,
    noted: tuple[str, DisposalNote],
    outcome: RetentionRecovered,
    by: AppliedBy,
) -> None:
    """Delete what a restore put back of a record the database already holds as disposed
    of: its disposal, or an earlier recovery that applied its note, could not delete it
    (the store refused, or the run stopped), or a store-only restore put it back since.
    Each record's deletion gets its own audit entry at once, not only the run's summary."""
    key, note = noted
    deleted = _delete_leftovers(store, note.record_id, outcome)
    if not deleted:
        return
    payload = LeftoversDeletedPayload(
        note=key, disposition=note.disposition_id, objects_deleted=deleted
    )
    with session_scope(engine) as session:
        by.audit(
            session, AuditAction.DISPOSITION_LEFTOVERS_DELETED, f"record:{note.record_id}", payload
        )
    outcome.leftovers_deleted.append(LeftoversDeleted(note.record_id, deleted))


def _delete_leftovers(store: BlobStore, record_id: str, outcome: RetentionRecovered) -> int:
    """Delete what the store holds of a record its note says was disposed of (put back
    by a restore of an older backup): the disposal was approved and carried out, and its
    content must not outlive it. Returns how many objects were deleted."""
    prefix = f"records/{record_id}/"
    try:
        leftovers = list(store.list(prefix))
        if leftovers:
            delete_content(store, [], leftovers)
    except StorageError as exc:
        problem = (
            f"disposed of, but its objects are still in the store and could not be deleted: {exc}"
        )
        outcome.problems.append((prefix, problem))
        return 0
    return len(leftovers)


def _back(note: DisposalNote, added: bool, deleted: int) -> DisposalBack:
    return DisposalBack(
        record_id=note.record_id,
        disposition_id=note.disposition_id,
        action=note.action,
        executed_at=note.executed_at.isoformat(),
        approved_by=note.approved_by,
        reason=note.reason,
        added=added,
        objects_deleted=deleted,
    )


def _user_ids(session: Session, names: set[str]) -> dict[str, int]:
    rows = session.exec(select(User.id, User.username).where(User.username.in_(names)))  # type: ignore[attr-defined]
    found = {name: uid for uid, name in rows if uid is not None}
    missing = names - set(found)
    if missing:
        raise KeyError(f"no account for {', '.join(sorted(missing))}")
    return found


def _contract_id(session: Session, reference: str | None) -> int | None:
    if reference is None:
        return None
    try:
        return contract_id(session, reference)
    except NotFound as exc:  # the callers report a note they cannot apply as a KeyError
        raise KeyError(f"no contract {reference}") from exc


def _disposed_row(session: Session, note: DisposalNote) -> Record:
    """The record's row and versions as they were when it was disposed of (active until
    :func:`_complete` retires it)."""
    facts = note.record
    users = _user_ids(session, {facts.captured_by, *(v.captured_by for v in facts.versions)})
    record = Record(
        id=note.record_id,
        title=facts.title,
        record_type=facts.record_type,
        contract_id=_contract_id(session, facts.contract),
        classification=Classification(facts.classification).value,
        originator=facts.originator,
        record_date=facts.record_date,
        current_version=facts.current_version,
        captured_at=facts.captured_at,
        captured_by_id=users[facts.captured_by],
        updated_at=note.executed_at,
    )
    session.add(record)
    session.flush()
    session.add_all(RecordTag(record_id=record.id, tag=tag) for tag in facts.tags)
    session.add_all(
        Version(
            record_id=record.id,
            number=v.number,
            sha256=v.sha256,
            size=v.size,
            media_type=v.media_type,
            original_filename=v.filename,
            storage_key=v.storage_key,
            text_status=TextStatus(v.text_status).value,
            text_reason=v.text_reason,
            captured_at=v.captured_at,
            captured_by_id=users[v.captured_by],
        )
        for v in facts.versions
    )
    session.flush()
    return record


def _complete(session: Session, record: Record, note: DisposalNote) -> None:
    """The disposition executed, the tombstone written and the record retired, as the
    disposal did them."""
    disposition = _disposition(session, record.id, note)
    assert disposition.id is not None
    versions = versions_of(session, record.id)
    drop_pending(session, record.id)
    contract = note.record.contract
    tombstone = DisposalRecord(
        record_id=record.id,
        disposition_id=disposition.id,
        title=record.title,
        record_type=record.record_type,
        contract_ref=contract,
        metadata_json=json.dumps(record_facts(session, record), sort_keys=True, default=str),
        versions_json=json.dumps([version_facts(v) for v in versions], default=str),
        rule=note.rule,
        citation=note.citation,
        schedule_version=note.schedule_version,
        retain_until=note.retain_until,
        action=note.action,
        proposed_by=note.proposed_by,
        approved_by=note.approved_by,
        approval_reason=note.reason,
        executed_at=note.executed_at,
        transfer_key=note.transfer_key,
        transfer_sha256=note.transfer_sha256,
    )
    session.add(tombstone)
    retire_record(session, record, disposition, versions, note.executed_at)


def _disposition(session: Session, record_id: str, note: DisposalNote) -> Disposition:
    """The record's open disposition (the one the note completes), or a new one."""
    disposition = open_disposition(session, record_id) or Disposition(
        record_id=record_id,
        action=note.action,
        rule=note.rule,
        retain_until=note.retain_until,
        proposed_by=note.proposed_by,
        proposed_at=note.proposed_at,
        proposal_reason=note.proposal_reason,
    )
    disposition.status = DispositionStatus.APPROVED.value
    disposition.decision = note.decision
    disposition.decided_by, disposition.reason = note.approved_by, note.reason
    disposition.decided_at = note.decided_at or note.executed_at
    session.add(disposition)
    session.flush()
    return disposition
