"""Appending to the audit log inside the caller's transaction.

Every service function that changes state (or reads content) calls
:func:`record_event` in the same database transaction as the change, so an
action and its entry commit or roll back together. The entry's index comes
from ``audit_head`` under its row lock, so indices are gapless even when an
append rolls back; the Merkle nodes the new leaf completes are stored with it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Table, insert, text
from sqlmodel import Session, select

from records_service.audit.actions import AuditAction, Payload, payload_type
from records_service.audit.merkle import leaf_hash, new_nodes_for_leaf
from records_service.audit.models import AuditEntry, AuditNode
from records_service.audit.nodes import with_stored_nodes
from records_service.clock import Clock

ANONYMOUS = "-"
_ENTRIES: Table = AuditEntry.__table__  # type: ignore[attr-defined]
_NODES: Table = AuditNode.__table__  # type: ignore[attr-defined]
_NEXT_INDEX = text("UPDATE audit_head SET size = size + 1 WHERE id = 1 RETURNING size")


def canonical_details(payload: Payload) -> str:
    """The payload as canonical JSON text (sorted keys, no spaces, UTF-8)."""
    return canonical_json(payload.model_dump(mode="json"))


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text: keys sorted, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(at: datetime) -> str:
    """The canonical timestamp form: UTC with microseconds and a ``Z``."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_entry(entry: AuditEntry) -> bytes:
    """The exact bytes hashed into the Merkle tree for ``entry`` (see `canonical_bytes`)."""
    return canonical_bytes(
        index=entry.idx,
        at=format_time(entry.at),
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=entry.details,
    )


def canonical_bytes(
    *, index: int, at: str, actor: str, action: str, subject: str, details: str
) -> bytes:
    """The canonical entry: the JSON object of these six fields, keys sorted, no spaces, UTF-8.

    ``at`` is the `format_time` text. ``details`` is spliced in verbatim: `record_event`
    stores it as canonical JSON already, so the result equals a full canonical dump of
    the entry, while any later change to the stored text (even whitespace) changes the
    hash. Built by hand because verification runs this once per entry.
    """
    return (
        '{"action":'
        + encode_basestring(action)
        + ',"actor":'
        + encode_basestring(actor)
        + ',"at":'
        + encode_basestring(at)
        + ',"details":'
        + details
        + ',"index":'
        + str(int(index))
        + ',"subject":'
        + encode_basestring(subject)
        + "}"
    ).encode("utf-8")


def _next_index(session: Session) -> int:
    # Through the connection: the session's own execute adds ORM work for a plain statement.
    result = session.connection().execute(_NEXT_INDEX)
    return int(result.scalar_one()) - 1


def record_event(
    session: Session,
    *,
    actor: str,
    action: AuditAction,
    subject: str,
    payload: Payload,
    clock: Clock,
) -> AuditEntry:
    """Append one entry for ``action`` on ``subject`` by ``actor`` to the log.

    Runs inside the caller's transaction, so a failure here fails the action too.
    Returns the entry as written (a plain object, not attached to the session).
    """
    expected = payload_type(action)
    if not isinstance(payload, expected):
        raise TypeError(f"{action} needs a {expected.__name__} payload")
    index = _next_index(session)
    entry = AuditEntry(
        idx=index,
        at=clock(),
        actor=actor,
        action=action.value,
        subject=subject,
        details=canonical_details(payload),
    )
    _store(session, entry)
    return entry


def _store(session: Session, entry: AuditEntry) -> None:
    """Insert ``entry`` (at the index just taken) and the Merkle nodes its leaf completes."""
    leaf = leaf_hash(canonical_entry(entry))
    # Left siblings come in one query; both inserts bypass the unit of work, which
    # costs more than the statements themselves on every audited action.
    nodes = with_stored_nodes(session, lambda stored: new_nodes_for_leaf(entry.idx, leaf, stored))
    conn = session.connection()
    conn.execute(insert(_ENTRIES), [entry.model_dump()])
    conn.execute(
        insert(_NODES), [{"level": lv, "idx": ix, "hash": digest} for lv, ix, digest in nodes]
    )


def append_as_written(session: Session, entry: AuditEntry) -> None:
    """Append an entry exactly as it was once written (restoring the log from an
    export bundle). Its index must be the log's next; raises ``ValueError`` if not,
    and the caller's transaction must then roll back."""
    index = _next_index(session)
    if index != entry.idx:
        raise ValueError(f"entry {entry.idx} cannot follow a log of {index} entries")
    _store(session, entry)


def log_size(session: Session) -> int:
    """The number of entries in the log."""
    result = session.execute(text("SELECT size FROM audit_head WHERE id = 1"))
    return int(result.scalar_one())


def entries_for_subject(session: Session, subject: str) -> list[AuditEntry]:
    """Every entry about ``subject``, oldest first."""
    statement = select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.idx)  # type: ignore[arg-type]
    return list(session.exec(statement))
