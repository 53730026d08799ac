"""Reading the audit log for the API: filtered entries, a record's history, the
latest checkpoint, and inclusion and consistency proofs from the stored tree.

Permission checks and response shapes are left to the routes. Proofs are built
from stored nodes; a client trusts them only after checking them against a
signed checkpoint, which is why the checkpoint is served alongside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, func, true
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction
from records_service.audit.checkpoint import Checkpoint, parse_checkpoint_body
from records_service.audit.log import log_size
from records_service.audit.merkle import NodeReader, consistency_proof, inclusion_proof, root
from records_service.audit.models import AuditCheckpoint, AuditEntry, AuditNode
from records_service.audit.nodes import with_stored_nodes
from records_service.errors import InvalidInput, NotFound
from records_service.pagination import PageParams, Sort

T = TypeVar("T")


@dataclass(frozen=True)
class EntryFilters:
    """Which entries to list; every field narrows the result."""

    subject: str | None = None
    actor: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    until: datetime | None = None


class EntryFields(BaseModel):
    """What an audit entry records, as the service's view and the API's shape show it."""

    index: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: Any


class EntryView(EntryFields):
    """One entry with its recorded leaf hash (None if the node is missing)."""

    model_config = ConfigDict(frozen=True)

    leaf_hash: bytes | None


@dataclass(frozen=True)
class InclusionProof:
    """Proof that the entry at ``index`` is leaf ``index`` of the tree of ``tree_size``."""

    index: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]
    root_hash: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that the tree of ``first`` entries is a prefix of the tree of ``second``."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: list[bytes]


def _conditions(filters: EntryFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.subject is not None:
        conditions.append(col(AuditEntry.subject) == filters.subject)
    if filters.actor is not None:
        conditions.append(col(AuditEntry.actor) == filters.actor)
    if filters.action is not None:
        conditions.append(col(AuditEntry.action) == filters.action.value)
    if filters.since is not None:
        conditions.append(col(AuditEntry.at) >= filters.since)
    if filters.until is not None:
        conditions.append(col(AuditEntry.at) < filters.until)
    return conditions


# Columns entries may be sorted by besides their place in the log (each is indexed).
ENTRY_SORTS = {
    "when": col(AuditEntry.idx),
    "who": col(AuditEntry.actor),
    "action": col(AuditEntry.action),
}


def list_entries(
    session: Session,
    *,
    filters: EntryFilters,
    page: PageParams,
    newest_first: bool = False,
    sort: Sort | None = None,
) -> tuple[list[EntryView], int]:
    """One page of matching entries in log order (oldest first, or newest first), or by
    ``sort`` (one of :data:`ENTRY_SORTS`, then newest first), and the total count."""
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("'from' must be earlier than 'to'")
    where = and_(true(), *_conditions(filters))
    total = session.exec(select(func.count()).select_from(AuditEntry).where(where)).one()
    leaf = and_(col(AuditNode.level) == 0, col(AuditNode.idx) == col(AuditEntry.idx))
    statement = (
        select(AuditEntry, col(AuditNode.hash))
        .join(AuditNode, leaf, isouter=True)
        .where(where)
        .order_by(*_order(sort, newest_first))
        .offset(page.offset)
        .limit(page.page_size)
    )
    views = [_view(entry, digest) for entry, digest in session.exec(statement)]
    return views, int(total)


def _order(sort: Sort | None, newest_first: bool) -> list[Any]:
    if sort is None or sort.key == "when":
        descending = newest_first if sort is None else sort.descending
        return [col(AuditEntry.idx).desc() if descending else col(AuditEntry.idx)]
    column = ENTRY_SORTS[sort.key]
    return [column.desc() if sort.descending else column.asc(), col(AuditEntry.idx).desc()]


def _view(entry: AuditEntry, digest: bytes | None) -> EntryView:
    try:
        details: Any = json.loads(entry.details)
    except ValueError:
        details = entry.details
    return EntryView(
        index=entry.idx,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=details,
        leaf_hash=bytes(digest) if digest is not None else None,
    )


def latest_checkpoint(session: Session) -> tuple[AuditCheckpoint, Checkpoint]:
    """The most recent checkpoint and its parsed fields; ``NotFound`` if none was signed."""
    row = session.exec(
        select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size).desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound("no checkpoint has been signed yet")
    body = row.note[: row.note.rindex("\n\n") + 1]
    return row, parse_checkpoint_body(body)


def _check_size(tree_size: int, size: int, name: str) -> None:
    if not 0 <= tree_size <= size:
        raise InvalidInput(f"{name} {tree_size} is outside the log, which holds {size} entries")


def inclusion(session: Session, *, index: int, tree_size: int | None) -> InclusionProof:
    """The inclusion proof of entry ``index`` in the tree of ``tree_size`` (default: all)."""
    total = log_size(session)
    size = total if tree_size is None else tree_size
    _check_size(size, total, "tree_size")
    if not 0 <= index < size:
        raise InvalidInput(f"entry {index} is not in a tree of {size} entries")

    def compute(nodes: NodeReader) -> tuple[bytes, list[bytes], bytes]:
        return nodes.node(0, index), inclusion_proof(index, size, nodes), root(size, nodes)

    leaf, path, root_hash = _from_nodes(session, compute)
    return InclusionProof(index, size, leaf, path, root_hash)


def consistency(session: Session, *, first: int, second: int) -> ConsistencyProof:
    """The consistency proof between the trees of ``first`` and ``second`` entries."""
    if first > second:
        raise InvalidInput(f"first ({first}) must not be larger than second ({second})")
    total = log_size(session)
    _check_size(first, total, "first")
    _check_size(second, total, "second")

    def compute(nodes: NodeReader) -> tuple[list[bytes], bytes, bytes]:
        proof = consistency_proof(first, second, nodes)
        return proof, root(first, nodes), root(second, nodes)

    path, first_root, second_root = _from_nodes(session, compute)
    return ConsistencyProof(first, second, first_root, second_root, path)


def _from_nodes(session: Session, compute: Callable[[NodeReader], T]) -> T:
    try:
        return with_stored_nodes(session, compute)
    except KeyError as exc:
        raise NotFound(f"stored Merkle node {exc.args[0]} is missing; run audit verify") from None
