"""Finding content and catalogue rows that have lost each other.

An *orphan object* is a stored object under ``records/`` that no version row
names (for example, left behind when a capture's rollback could not delete it),
or a change note of a record the catalogue does not keep.
A *missing object* is a version row whose content is gone from the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import col, select

from records_service.db import read_scope
from records_service.records.models import DISPOSED_STATUSES, Record, Version
from records_service.records.sidecars import (
    change_note_record,
    content_key_of,
    pending_keys,
    sidecar_key,
)
from records_service.storage import BlobStore


@dataclass
class OrphanReport:
    """Objects without rows, and rows without objects."""

    orphan_objects: list[str] = field(default_factory=list)
    missing_objects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether store and catalogue agree."""
        return not self.orphan_objects and not self.missing_objects


def _expected_keys(engine: Engine) -> tuple[set[str], set[str]]:
    """Content keys of every kept version, and the sidecar keys still queued."""
    with read_scope(engine) as session:
        rows = session.exec(
            select(Version.storage_key)
            .join(Record, Record.id == Version.record_id)  # type: ignore[arg-type]
            .where(col(Record.status).not_in(DISPOSED_STATUSES))
        )
        return set(rows), pending_keys(session)


def find_orphans(engine: Engine, store: BlobStore) -> OrphanReport:
    """Compare every version row with every object under ``records/``.

    A sidecar still queued for the background worker is not missing. The queue is
    read before the listing: a sidecar written in between is simply listed.
    """
    expected, queued = _expected_keys(engine)
    kept = {key.split("/")[1] for key in expected}
    stored = set(store.list("records/"))
    report = OrphanReport()
    for key in sorted(stored):
        noted = change_note_record(key)
        if (noted not in kept) if noted is not None else (content_key_of(key) not in expected):
            report.orphan_objects.append(key)
    for key in sorted(expected):
        if key not in stored:
            report.missing_objects.append(key)
        elif sidecar_key(key) not in stored and sidecar_key(key) not in queued:
            report.missing_objects.append(sidecar_key(key))
    return report
