"""Attachments of e-mail messages as records of their own, linked to their message.

Owns the "part of" relation (``record_parts``) and the background step that fills
it. Capturing an e-mail (.eml or Outlook .msg) queues its version
(``pending_splits``, in the capture's transaction); :func:`split_pending` then reads
each queued message from the store and captures every attachment through the normal
capture path (:func:`records_service.records.capture.capture_record`: blob, rows, index
task, sidecar and a ``record.capture`` audit entry), with the message's record type,
contract, tags, record date, classification and originator, as the user who captured
the message. In the same transaction it links the new record to the message and
audits ``record.part``.

Idempotent: an attachment's place in its message version is unique in
``record_parts``, so a retry after a crash (or a second worker) skips the
attachments already taken, and a duplicate that races in is rolled back with its
blob. The queue entry goes once every attachment is a record. A message that cannot
be parsed has no attachments to take (its text extraction reports why).
"""

from __future__ import annotations

import io
import logging
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, PartPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.db import insert_rows, read_scope, session_scope
from records_service.errors import InvalidInput, PayloadTooLarge
from records_service.extraction.parts import MessagePart, UnreadableMessage, message_parts
from records_service.records.capture import CaptureContext, InTransaction, capture_record
from records_service.records.content import MAX_FILENAME_LENGTH
from records_service.records.models import (
    DISPOSED_STATUSES,
    Classification,
    PendingSplit,
    Record,
    RecordPart,
    RecordTag,
    Version,
)
from records_service.records.schemas import RecordLink, RecordMetadata, RecordPublic
from records_service.records.service import contract_reference, visible_clause
from records_service.storage import StorageError

log = logging.getLogger(__name__)

_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class _Message:
    """A queued message version, with what its attachments inherit."""

    record: Record
    version: Version
    contract: str | None
    tags: list[str]
    actor: User


def split_pending(ctx: CaptureContext, *, limit: int = 20) -> int:
    """Take the attachments of up to ``limit`` queued messages; returns how many
    messages left the queue."""
    with read_scope(ctx.engine) as session:
        queued = session.exec(
            select(PendingSplit.record_id, PendingSplit.version)
            .order_by(col(PendingSplit.enqueued_at), col(PendingSplit.record_id))
            .limit(limit)
        ).all()
    return sum(split_message(ctx, record_id, number) for record_id, number in queued)


def split_message(ctx: CaptureContext, record_id: str, number: int) -> int:
    """Make every attachment of version ``number`` of the message a record; returns 1
    when the message left the queue, 0 when its content cannot be read now."""
    message = _load(ctx.engine, record_id, number)
    if message is not None:
        taken = _taken(ctx.engine, record_id, number)
        try:
            with ctx.store.as_file(message.version.storage_key) as path:
                for part in message_parts(path, message.version.media_type):
                    if part.position not in taken:
                        _capture_part(ctx, message, part)
        except StorageError as exc:
            log.warning("cannot read message %s v%d now: %s", record_id, number, exc)
            return 0
        except UnreadableMessage as exc:
            log.info("message %s v%d has no attachments to take: %s", record_id, number, exc.reason)
    with session_scope(ctx.engine) as session:
        session.connection().execute(
            delete(PendingSplit).where(
                col(PendingSplit.record_id) == record_id, col(PendingSplit.version) == number
            )
        )
    return 1


def _load(engine: Engine, record_id: str, number: int) -> _Message | None:
    """The queued message, or None when it is gone or its content was disposed of."""
    with read_scope(engine) as session:
        record = session.get(Record, record_id)
        version = session.exec(
            select(Version).where(Version.record_id == record_id, Version.number == number)
        ).first()
        if record is None or version is None or record.status in DISPOSED_STATUSES:
            return None
        actor = session.get(User, version.captured_by_id)
        if actor is None:
            return None
        tags = list(session.exec(select(RecordTag.tag).where(RecordTag.record_id == record_id)))
        contract = contract_reference(session, record.contract_id)
        session.expunge_all()
    return _Message(record, version, contract, sorted(tags), actor)


def _taken(engine: Engine, record_id: str, number: int) -> set[int]:
    with read_scope(engine) as session:
        rows = session.exec(
            select(RecordPart.position).where(
                RecordPart.whole_record_id == record_id, RecordPart.whole_version == number
            )
        )
        return set(rows)


def _capture_part(ctx: CaptureContext, message: _Message, part: MessagePart) -> None:
    """Capture one attachment, linked to its message; a refusal is logged and passed over."""
    name = part_filename(part.filename, part.position)
    record = message.record
    link = _linker(ctx, message, part.position, name)
    try:
        # Details the message was given before today's bounds (a legacy tag or
        # classification) are refused here, like any capture's.
        meta = RecordMetadata(
            title=name,
            record_type=record.record_type,
            contract=message.contract,
            tags=message.tags,
            record_date=record.record_date,
            classification=Classification(record.classification),
            originator=record.originator,
        )
        source = io.BytesIO(part.data)
        capture_record(
            ctx, meta=meta, source=source, filename=name, actor=message.actor, in_transaction=link
        )
    except IntegrityError:
        log.info("attachment %d of %s was taken by another worker", part.position, record.id)
    except (InvalidInput, PayloadTooLarge, ValueError) as exc:
        log.warning("attachment %d of %s not captured: %s", part.position, record.id, exc)


def _linker(ctx: CaptureContext, message: _Message, position: int, filename: str) -> InTransaction:
    """What the attachment's capture also writes: its link to the message, audited."""
    whole, number = message.record.id, message.version.number

    def link(session: Session, new: Record, _version: Version) -> None:
        row = RecordPart(
            part_record_id=new.id, whole_record_id=whole, whole_version=number, position=position
        )
        insert_rows(session, [row])
        record_event(
            session,
            actor=message.actor.username,
            action=AuditAction.RECORD_PART,
            subject=f"record:{new.id}",
            payload=PartPayload(
                message=whole, message_version=number, position=position, filename=filename
            ),
            clock=ctx.clock,
        )

    return link


def part_filename(name: str, position: int) -> str:
    """A file name the capture path accepts, from an attachment's (untrusted) name."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in _UNPRINTABLE).strip()
    if base in {"", ".", ".."}:
        return f"attachment-{position + 1}"
    if len(base) > MAX_FILENAME_LENGTH:
        stem, dot, suffix = base.rpartition(".")
        if dot and len(suffix) <= 16:
            return stem[: MAX_FILENAME_LENGTH - len(suffix) - 1] + dot + suffix
        return base[:MAX_FILENAME_LENGTH]
    return base


@dataclass(frozen=True)
class RelatedRecord:
    """A record named on another's page: its id and title."""

    id: str
    title: str


def message_of(session: Session, record_id: str, user: User) -> RelatedRecord | None:
    """The message ``record_id`` was attached to, if ``user`` may see it."""
    return messages_of(session, [record_id], user).get(record_id)


def attachments_of(session: Session, record_id: str, user: User) -> list[RelatedRecord]:
    """The records made from ``record_id``'s attachments that ``user`` may see, in the
    order of the message's versions and attachments."""
    return parts_of(session, [record_id], user).get(record_id, [])


def messages_of(
    session: Session, record_ids: Collection[str], user: User
) -> dict[str, RelatedRecord]:
    """For each of ``record_ids`` made from an attachment, its message (if ``user`` may
    see it): one query for them all."""
    if not record_ids:
        return {}
    rows = session.exec(
        select(RecordPart.part_record_id, Record.id, Record.title)
        .join(RecordPart, col(RecordPart.whole_record_id) == col(Record.id))
        .where(col(RecordPart.part_record_id).in_(list(record_ids)), visible_clause(user))
    )
    return {part: RelatedRecord(rid, title) for part, rid, title in rows}


def parts_of(
    session: Session, record_ids: Collection[str], user: User
) -> dict[str, list[RelatedRecord]]:
    """For each of ``record_ids`` that is a message, the records made from its
    attachments that ``user`` may see, in order: one query for them all."""
    if not record_ids:
        return {}
    rows = session.exec(
        select(RecordPart.whole_record_id, Record.id, Record.title)
        .join(RecordPart, col(RecordPart.part_record_id) == col(Record.id))
        .where(col(RecordPart.whole_record_id).in_(list(record_ids)), visible_clause(user))
        .order_by(col(RecordPart.whole_version), col(RecordPart.position))
    )
    found: dict[str, list[RelatedRecord]] = {}
    for whole, rid, title in rows:
        found.setdefault(whole, []).append(RelatedRecord(rid, title))
    return found


def with_links(session: Session, views: list[RecordPublic], user: User) -> list[RecordPublic]:
    """``views`` with ``part_of`` and ``parts`` filled in, as far as ``user`` may see
    (two queries for all of them)."""
    ids = [view.id for view in views]
    wholes, parts = messages_of(session, ids, user), parts_of(session, ids, user)
    return [
        view.model_copy(
            update={
                "part_of": _link(wholes.get(view.id)),
                "parts": [RecordLink(id=p.id, title=p.title) for p in parts.get(view.id, [])],
            }
        )
        for view in views
    ]


def _link(related: RelatedRecord | None) -> RecordLink | None:
    return RecordLink(id=related.id, title=related.title) if related else None
