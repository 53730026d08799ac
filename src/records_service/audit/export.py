"""Exporting the audit log from the database as an offline bundle.

Reads one consistent snapshot of the log and hands it to
:func:`records_service.audit.bundle.write_bundle`, which owns the layout. Each
entry carries its canonical bytes, the leaf hash recorded when it was written,
and readable fields. Checkpoints come from the write-once store when it holds
them (the copy nobody can rewrite), else from the database. Checkpoints signed
only by a retired key are left out, because the bundle names one verifier key;
everything else goes in as found, so an export never hides damage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from records_service.audit._rows import TimeText, entry_rows
from records_service.audit._snapshot import snapshot
from records_service.audit.bundle import write_bundle
from records_service.audit.checkpoint import CheckpointError, open_checkpoint
from records_service.audit.log import canonical_bytes
from records_service.storage import BlobStore, StorageError


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    entries: int
    checkpoints: int
    retired_key_checkpoints: int
    manifest: dict[str, Any]


def export_bundle(
    engine: Engine,
    path: Path,
    *,
    checkpoint_store: BlobStore | None,
    public_key: str,
    retired_keys: Sequence[str],
    origin: str,
) -> ExportSummary:
    """Write the whole log as a bundle into ``path`` (new or empty)."""
    with snapshot(engine) as conn:
        notes = _checkpoint_notes(conn, checkpoint_store)
        kept = {
            size: note
            for size, note in notes.items()
            if not _only_retired(note, public_key, retired_keys)
        }
        manifest = write_bundle(path, _entries(conn), kept.items(), public_key, origin)
    return ExportSummary(
        entries=int(manifest["counts"]["entries"]),
        checkpoints=len(kept),
        retired_key_checkpoints=len(notes) - len(kept),
        manifest=manifest,
    )


def _checkpoint_notes(conn: Connection, store: BlobStore | None) -> dict[int, str]:
    rows = conn.execute(text("SELECT tree_size, note, storage_key FROM audit_checkpoints"))
    notes: dict[int, str] = {}
    for size, note, key in rows:
        notes[int(size)] = _stored_copy(store, key) or note
    return notes


def _stored_copy(store: BlobStore | None, key: str) -> str | None:
    if store is None:
        return None
    try:
        return b"".join(store.open(key)).decode("utf-8")
    except (StorageError, UnicodeDecodeError):
        return None


def _only_retired(note: str, current: str, retired_keys: Sequence[str]) -> bool:
    """Whether ``note`` verifies under a retired key but not under the current one."""
    return not _verifies(note, current) and any(_verifies(note, k) for k in retired_keys)


def _verifies(note: str, key: str) -> bool:
    try:
        open_checkpoint(note, key)
    except CheckpointError:
        return False
    return True


def _entries(conn: Connection) -> Iterator[tuple[int, bytes, Mapping[str, Any]]]:
    """Every stored entry, whatever its index, so that an export never hides damage."""
    lowest, highest = conn.execute(text("SELECT min(idx), max(idx) FROM audit_entries")).one()
    if lowest is None:
        return
    time_text = TimeText(conn.dialect)
    for batch in entry_rows(conn, int(lowest), int(highest) + 1):
        for index, at, actor, action, subject, details, stored in batch:
            at_text = time_text(at) or str(at)
            canonical = canonical_bytes(
                index=index,
                at=at_text,
                actor=actor,
                action=action,
                subject=subject,
                details=details,
            )
            fields: dict[str, Any] = {
                "at": at_text,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": _readable(details),
            }
            if stored is not None:
                fields["leaf_hash"] = bytes(stored)
            yield index, canonical, fields


def _readable(details: str) -> Any:
    try:
        return json.loads(details)
    except ValueError:
        return details
