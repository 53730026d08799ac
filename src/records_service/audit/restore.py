"""Bringing lost audit entries back from export bundles, after a database loss.

The write-once store keeps only the signed checkpoints: they prove how many
entries the log had and what their root was, not what the entries said. An
export bundle (``audit export``) holds the entries themselves, so a bundle taken
before the loss brings back every entry it holds. This module owns that:

- each bundle given is verified offline first (:func:`verify_bundle`, against
  the log's own verifier key); one with any problem is not used;
- the longest good bundle is used if it reaches beyond the log, and only if its
  first entries are the log's own (the same root at the log's size);
- its entries beyond the log are appended exactly as written (same index, time,
  actor, action, subject and details, so the same leaf hashes), each checked to
  give back its canonical bytes.

Entries beyond the longest bundle stay lost; :mod:`records_service.audit.rollback`
records that loss in the log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from records_service.audit.bundle import ENTRIES_FILE, verify_bundle
from records_service.audit.log import (
    append_as_written,
    canonical_entry,
    canonical_json,
    log_size,
)
from records_service.audit.merkle import RootAccumulator, leaf_hash, root
from records_service.audit.models import AuditEntry
from records_service.audit.nodes import with_stored_nodes
from records_service.db import read_scope, session_scope

# Entries appended per transaction: far inside the bound on a write's length.
BATCH = 1_000


@dataclass(frozen=True)
class BundleUse:
    """One bundle offered: how many entries it holds and whether it was good."""

    path: str
    entries: int
    ok: bool
    problems: list[str]


@dataclass
class LogRestore:
    """What :func:`restore_from_bundles` did."""

    size_before: int
    restored: int = 0
    used: str | None = None
    bundles: list[BundleUse] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def restore_from_bundles(
    engine: Engine, bundles: Sequence[Path], *, trusted_key: str | None
) -> LogRestore:
    """Append to the log the entries of the longest good bundle that it lacks."""
    with read_scope(engine) as session:
        outcome = LogRestore(size_before=log_size(session))
    for path in bundles:
        report = verify_bundle(path, trusted_key_text=trusted_key)
        outcome.bundles.append(BundleUse(str(path), report.tree_size, report.ok, report.problems))
    good = [b for b in outcome.bundles if b.ok and b.entries > outcome.size_before]
    if not good:
        return outcome
    chosen = max(good, key=lambda b: b.entries)
    try:
        _append_from(engine, Path(chosen.path), outcome.size_before)
    except ValueError as exc:
        outcome.problems.append(f"{chosen.path}: {exc}")
        return outcome
    outcome.used = chosen.path
    with read_scope(engine) as session:
        outcome.restored = log_size(session) - outcome.size_before
    return outcome


def _entries(path: Path) -> Iterator[tuple[AuditEntry, bytes]]:
    """Each entry of a (verified) bundle, rebuilt, with its canonical bytes."""
    with (path / ENTRIES_FILE).open("rb") as lines:
        for raw in lines:
            canonical = base64.b64decode(json.loads(raw)["canonical"], validate=True)
            fields = json.loads(canonical)
            entry = AuditEntry(
                idx=fields["index"],
                at=datetime.fromisoformat(fields["at"]),
                actor=fields["actor"],
                action=fields["action"],
                subject=fields["subject"],
                details=canonical_json(fields["details"]),
            )
            if canonical_entry(entry) != canonical:
                raise ValueError(f"entry {entry.idx} cannot be rebuilt byte for byte")
            yield entry, canonical


def _append_from(engine: Engine, path: Path, size: int) -> None:
    """Check the bundle starts with the log's entries, then append the rest."""
    prefix = RootAccumulator()
    batch: list[AuditEntry] = []
    for entry, canonical in _entries(path):
        if entry.idx < size:
            prefix.append(leaf_hash(canonical))
            if prefix.size == size:
                _check_prefix(engine, prefix, size)
            continue
        batch.append(entry)
        if len(batch) == BATCH:
            _append(engine, batch)
            batch = []
    if batch:
        _append(engine, batch)


def _check_prefix(engine: Engine, prefix: RootAccumulator, size: int) -> None:
    with read_scope(engine) as session:
        held = with_stored_nodes(session, partial(root, size))
    if prefix.root() != held:
        raise ValueError(f"its first {size} entries are not the log's: not used")


def _append(engine: Engine, entries: list[AuditEntry]) -> None:
    with session_scope(engine) as session:
        _append_all(session, entries)


def _append_all(session: Session, entries: list[AuditEntry]) -> None:
    for entry in entries:
        append_as_written(session, entry)
