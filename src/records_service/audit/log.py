"""Appending to the audit log inside the caller's transaction.

Every service function that changes state (or reads content) calls
:func:`record_event` in the same database transaction as the change, so an
action and its entry commit or roll back together. The entry's index comes
from ``audit_head`` under its row lock, so indices are gapless even when an
append rolls back; the Merkle nodes the new leaf completes are stored with it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from records_service.audit.actions import AuditAction, Payload, payload_type
from records_service.audit.merkle import leaf_hash, new_nodes_for_leaf
from records_service.audit.models import AuditEntry, AuditNode
from records_service.clock import Clock

ANONYMOUS = "-"


def canonical_details(payload: Payload) -> str:
    """The payload as canonical JSON text (sorted keys, no spaces, UTF-8)."""
    return _canonical_json(payload.model_dump(mode="json"))


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(at: datetime) -> str:
    """The canonical timestamp form: UTC with microseconds and a ``Z``."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_entry(entry: AuditEntry) -> bytes:
    """The exact bytes hashed into the Merkle tree for ``entry``."""
    body = {
        "action": entry.action,
        "actor": entry.actor,
        "at": format_time(entry.at),
        "details": json.loads(entry.details),
        "index": entry.idx,
        "subject": entry.subject,
    }
    return _canonical_json(body).encode("utf-8")


class _SessionNodes:
    """Reads stored Merkle nodes within the current transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def node(self, level: int, index: int) -> bytes:
        row = self._session.get(AuditNode, (level, index))
        if row is None:
            raise KeyError((level, index))
        return row.hash


def _next_index(session: Session) -> int:
    result = session.execute(
        text("UPDATE audit_head SET size = size + 1 WHERE id = 1 RETURNING size")
    )
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

    Runs inside the caller's transaction and flushes, so a failure here fails
    the action too.
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
    session.add(entry)
    leaf = leaf_hash(canonical_entry(entry))
    for level, node_index, digest in new_nodes_for_leaf(index, leaf, _SessionNodes(session)):
        session.add(AuditNode(level=level, idx=node_index, hash=digest))
    session.flush()
    return entry


def log_size(session: Session) -> int:
    """The number of entries in the log."""
    result = session.execute(text("SELECT size FROM audit_head WHERE id = 1"))
    return int(result.scalar_one())


def entries_for_subject(session: Session, subject: str) -> list[AuditEntry]:
    """Every entry about ``subject``, oldest first."""
    statement = select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.idx)  # type: ignore[arg-type]
    return list(session.exec(statement))
