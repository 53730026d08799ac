"""A lost or rolled-back audit log: finding it, refusing to sign over it, recording it.

The write-once store keeps every signed checkpoint for years, whatever becomes
of the database. So a stored checkpoint that covers more entries than the log
holds is proof that entries were lost: the database was restored from an older
copy, or replaced by an empty one. This module owns that comparison:

- :func:`find_rollback` names the stored checkpoints the log no longer agrees
  with (beyond it, or signing another root because the restored log has grown
  since) that no acknowledgement covers yet;
- the checkpoint writer refuses to sign while there are any (signing would
  vouch for a history that forks from the one already published);
- :func:`acknowledge_rollback` (``records-service audit acknowledge-rollback``)
  appends an ``audit.rollback_acknowledged`` entry naming the lost range, the
  checkpoints that prove it and their signed roots, and the reason given. Signing
  then resumes, under keys of a new *epoch* (``<size>-r<epoch>.note``), because
  the lost history's keys are taken in the write-once store for good.

Verification keeps reporting the loss, from the acknowledgement, as a warning;
the lost history is never hidden (see docs/audit.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from records_service.audit.actions import AuditAction, RollbackPayload
from records_service.audit.bundle import checkpoint_file_name
from records_service.audit.checkpoint import (
    CheckpointError,
    open_checkpoint,
    parse_checkpoint_body,
)
from records_service.audit.log import log_size, record_event
from records_service.audit.merkle import root
from records_service.audit.nodes import with_stored_nodes
from records_service.clock import Clock
from records_service.db import read_scope, session_scope
from records_service.errors import InvalidInput
from records_service.storage import BlobStore

CHECKPOINT_PREFIX = "audit/checkpoints/"
_KEY = re.compile(re.escape(CHECKPOINT_PREFIX) + r"([0-9]{20})(?:-r([0-9]{1,9}))?\.note")


class CheckpointConflict(Exception):
    """The store holds a checkpoint for this size that the stored tree contradicts."""


class LogRolledBack(CheckpointConflict):
    """Stored checkpoints vouch for entries the log no longer holds; nothing may be signed."""


def checkpoint_key(tree_size: int, epoch: int = 0) -> str:
    """The store key of the checkpoint at ``tree_size``, in ``epoch`` (0 before any rollback)."""
    if epoch == 0:
        return CHECKPOINT_PREFIX + checkpoint_file_name(tree_size)
    return f"{CHECKPOINT_PREFIX}{tree_size:020d}-r{epoch}.note"


def key_size(key: str) -> int | None:
    """The tree size a checkpoint key names, or None if it is not a checkpoint key."""
    match = _KEY.fullmatch(key)
    return None if match is None else int(match.group(1))


@dataclass(frozen=True)
class Acknowledged:
    """What the log says was lost: the checkpoint keys and each loss's description."""

    keys: frozenset[str]
    losses: tuple[str, ...]

    @property
    def epoch(self) -> int:
        """How many losses were acknowledged: the epoch new checkpoints are signed in."""
        return len(self.losses)


@dataclass(frozen=True)
class Rollback:
    """Signed checkpoints in the store that the log no longer agrees with.

    ``stored`` maps each such checkpoint's key to its size: beyond the log, or
    within it but signing another root (the log was restored and has grown since).
    ``kept`` is the largest stored size the log still agrees with (0 if none): the
    entries from there on differ from, or are missing from, the signed history.
    """

    log_size: int
    kept: int
    stored: dict[str, int]

    @property
    def stored_size(self) -> int:
        """The largest tree size signed in the store."""
        return max(self.stored.values())

    def message(self) -> str:
        """The problem, in words: what was found and what it means."""
        top = self.stored_size
        if top > self.log_size:
            return (
                f"the log has {self.log_size} entries; the store holds a signed checkpoint "
                f"of {top}: entries are missing or the database was restored from an older copy"
            )
        return (
            f"the store holds a checkpoint of {top} that signs a different root than the "
            f"log's first {top} entries: entries from {self.kept} on were replaced, or the "
            "database was restored from an older copy and has grown since"
        )


def acknowledged(conn: Connection | Session) -> Acknowledged:
    """Every loss the log records, oldest first."""
    rows = conn.execute(
        text("SELECT idx, details FROM audit_entries WHERE action = :action ORDER BY idx"),
        {"action": AuditAction.AUDIT_ROLLBACK_ACKNOWLEDGED.value},
    )
    keys: set[str] = set()
    losses: list[str] = []
    for idx, details in rows:
        payload = RollbackPayload.model_validate(json.loads(details))
        keys.update(payload.checkpoints)
        losses.append(
            f"entries {payload.lost_from} to {payload.lost_to} were lost (acknowledged at "
            f"entry {idx}: {payload.reason})"
        )
    return Acknowledged(frozenset(keys), tuple(losses))


def stored_checkpoints(store: BlobStore, known: frozenset[str]) -> dict[str, int]:
    """Every checkpoint key in the store, with its size, other than the ``known`` ones."""
    found: dict[str, int] = {}
    for key in store.list(CHECKPOINT_PREFIX):
        size = key_size(key)
        if size is not None and key not in known:
            found[key] = size
    return found


def check_store(
    db: Connection | Session, store: BlobStore, size: int, known: frozenset[str]
) -> Rollback | None:
    """Compare the store's checkpoints (but the ``known`` lost ones) with the log.

    Those beyond ``size`` are lost; of the rest, the largest ones whose signed root
    differs from the root the stored tree gives are lost too, down to the first
    that agrees (a log that agrees at one size agrees at every smaller one).
    """
    stored = stored_checkpoints(store, known)
    lost = {key: s for key, s in stored.items() if s > size}
    kept = 0
    for key, s in sorted(stored.items(), key=lambda item: -item[1]):
        if s > size:
            continue
        if _signed_root_text(store, key) == with_stored_nodes(db, partial(root, s)):
            kept = s
            break
        lost[key] = s
    return Rollback(size, kept, lost) if lost else None


def find_rollback(engine: Engine, store: BlobStore) -> Rollback | None:
    """The stored checkpoints the log no longer agrees with, if there are any."""
    with read_scope(engine) as session:
        return check_store(session, store, log_size(session), acknowledged(session).keys)


def acknowledge_rollback(
    engine: Engine,
    store: BlobStore,
    *,
    verifier_keys: Sequence[str],
    reason: str,
    actor: str,
    clock: Clock,
) -> RollbackPayload:
    """Record the loss that :func:`find_rollback` sees as an entry of the log, and return it.

    The evidence (each checkpoint's key and signed root) is read back from the
    store and its signature checked. Raises :class:`InvalidInput` when there is no
    loss to acknowledge or no reason is given.
    """
    if not reason.strip():
        raise InvalidInput("give the reason for accepting the loss (who found it, what was done)")
    found = find_rollback(engine, store)
    if found is None:
        raise InvalidInput("every signed checkpoint agrees with the log: nothing was lost")
    payload = RollbackPayload(
        log_size=found.log_size,
        lost_from=found.kept,
        lost_to=found.stored_size - 1,
        checkpoints=sorted(found.stored),
        roots=[_signed_root(store, key, verifier_keys) for key in sorted(found.stored)],
        reason=reason.strip(),
    )
    with session_scope(engine) as session:
        record_event(
            session,
            actor=actor,
            action=AuditAction.AUDIT_ROLLBACK_ACKNOWLEDGED,
            subject=f"audit:{found.log_size}-{found.stored_size - 1}",
            payload=payload,
            clock=clock,
        )
    return payload


def _signed_root_text(store: BlobStore, key: str) -> bytes | None:
    """The root the note at ``key`` states (its signature is verification's concern)."""
    note = b"".join(store.open(key)).decode("utf-8", errors="replace")
    try:
        return parse_checkpoint_body(note[: note.rindex("\n\n") + 1]).root_hash
    except (ValueError, CheckpointError):
        return None


def _signed_root(store: BlobStore, key: str, verifier_keys: Sequence[str]) -> str:
    """The root the checkpoint at ``key`` signs, if a trusted key's signature holds."""
    note = b"".join(store.open(key)).decode("utf-8", errors="replace")
    for verifier_key in verifier_keys:
        try:
            return open_checkpoint(note, verifier_key).root_hash.hex()
        except CheckpointError:
            continue
    return "unverified: no trusted key's signature holds"
