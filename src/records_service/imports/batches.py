"""Import batches: starting or resuming one, writing each file's outcome, finishing.

Every write is a short transaction: the outcomes of a group of files (see
:mod:`records_service.imports.runner`) are written in the transaction that writes the
records captured from them, so after a crash each file either has its outcome and, if
it was captured, its record, or neither. Outcomes other than ``failed`` are final: a
re-run of the batch leaves those files alone and tries the rest.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from records_service.audit.actions import (
    AuditAction,
    DuplicatePayload,
    ImportCountsPayload,
    ImportRunPayload,
    Provenance,
)
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.auth.service import get_user
from records_service.clock import Clock
from records_service.db import insert_rows, read_scope, session_scope
from records_service.errors import Conflict, InvalidInput
from records_service.imports.mapping import Mapping
from records_service.imports.models import FINAL_OUTCOMES, ImportBatch, ImportFile, Outcome
from records_service.imports.sources import SourceFile

# Keeps each statement well under SQLite's bound-parameter limit.
_PATHS_PER_DELETE = 500


def import_user(session: Session, username: str) -> User:
    """The user an import runs as: active and allowed to capture."""
    user = get_user(session, username)
    if user.disabled:
        raise InvalidInput(f"user {username!r} is disabled")
    if not allows(user.role_set, Permission.CAPTURE):
        raise InvalidInput(f"user {username!r} may not capture records (roles: {user.roles})")
    return user


def _check_same(batch: ImportBatch, source: str, mapping: Mapping) -> None:
    if batch.source != source:
        raise Conflict(
            f"batch {batch.name!r} imports {batch.source}, not {source}: "
            "name another batch with --batch"
        )
    if batch.mapping_sha256 != mapping.sha256:
        raise Conflict(
            f"batch {batch.name!r} was started with another mapping (SHA-256 "
            f"{batch.mapping_sha256[:12]}...): finish it with that mapping, or import "
            "under another --batch name (files already held become duplicate sightings)"
        )


def find_batch(session: Session, name: str, source: str, mapping: Mapping) -> ImportBatch | None:
    """The batch called ``name``, if it exists and imports ``source`` with ``mapping``
    (a batch of that name importing anything else is a ``Conflict``)."""
    batch = session.exec(select(ImportBatch).where(ImportBatch.name == name)).first()
    if batch is not None:
        _check_same(batch, source, mapping)
    return batch


def begin_batch(
    engine: Engine, *, name: str, source: str, mapping: Mapping, actor: User, clock: Clock
) -> ImportBatch:
    """Start the batch called ``name``, or resume it; audited as ``import.start``."""
    assert actor.id is not None
    with session_scope(engine) as session:
        now = clock()
        batch = find_batch(session, name, source, mapping)
        if batch is None:
            batch = ImportBatch(
                name=name,
                source=source,
                mapping_sha256=mapping.sha256,
                run_by_id=actor.id,
                started_at=now,
                last_run_at=now,
            )
        else:
            batch.runs += 1
            batch.last_run_at, batch.finished_at = now, None
        session.add(batch)
        session.flush()
        payload = ImportRunPayload(
            batch=name, source=source, mapping_sha256=mapping.sha256, run=batch.runs
        )
        _audit(session, actor, AuditAction.IMPORT_START, f"import:{batch.id}", payload, clock)
        session.expunge(batch)
    return batch


def _audit(
    session: Session,
    actor: User,
    action: AuditAction,
    subject: str,
    payload: ImportRunPayload | ImportCountsPayload | DuplicatePayload,
    clock: Clock,
) -> None:
    record_event(
        session, actor=actor.username, action=action, subject=subject, payload=payload, clock=clock
    )


def done_paths(engine: Engine, batch_id: int | None) -> set[str]:
    """The paths of ``batch_id`` with a final outcome (a re-run leaves them alone)."""
    if batch_id is None:
        return set()
    with read_scope(engine) as session:
        rows = session.exec(
            select(ImportFile.path).where(
                ImportFile.batch_id == batch_id, col(ImportFile.outcome).in_(FINAL_OUTCOMES)
            )
        )
        return set(rows)


def batch_counts(session: Session, batch_id: int) -> Counter[str]:
    """How many of the batch's files have each outcome."""
    rows = session.exec(
        select(ImportFile.outcome, func.count())
        .where(ImportFile.batch_id == batch_id)
        .group_by(col(ImportFile.outcome))
    )
    return Counter({outcome: int(count) for outcome, count in rows})


def finish_batch(engine: Engine, batch: ImportBatch, *, actor: User, clock: Clock) -> Counter[str]:
    """Mark the run finished; audited as ``import.finish`` with the batch's counts."""
    with session_scope(engine) as session:
        stored = session.get(ImportBatch, batch.id)
        assert stored is not None and stored.id is not None
        stored.finished_at = clock()
        session.add(stored)
        counts = batch_counts(session, stored.id)
        payload = ImportCountsPayload(
            batch=stored.name, run=stored.runs, **{o.value: counts[o.value] for o in Outcome}
        )
        _audit(session, actor, AuditAction.IMPORT_FINISH, f"import:{stored.id}", payload, clock)
    return counts


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file, as its row keeps it."""

    outcome: Outcome
    reason: str = ""
    sha256: str | None = None
    rule: int | None = None
    mapped: str | None = None
    record_id: str | None = None
    version: int | None = None


def provenance(
    batch: ImportBatch, file: SourceFile, size: int, actor: User, at: datetime
) -> Provenance:
    """The provenance of ``file`` of ``batch`` imported by ``actor`` at ``at``."""
    return Provenance(
        path=file.path,
        size=size,
        modified_at=file.modified_at.isoformat(),
        batch=batch.name,
        run_by=actor.username,
        imported_at=at.isoformat(),
    )


@dataclass(frozen=True)
class Settled:
    """One file's outcome, to be written: the file, its size and what became of it."""

    file: SourceFile
    size: int
    outcome: FileOutcome


def _row(batch: ImportBatch, settled: Settled, actor: User, at: datetime) -> ImportFile:
    assert batch.id is not None and actor.id is not None
    outcome = settled.outcome
    return ImportFile(
        batch_id=batch.id,
        path=settled.file.path,
        size=settled.size,
        modified_at=settled.file.modified_at,
        sha256=outcome.sha256,
        outcome=outcome.outcome.value,
        reason=outcome.reason[:500],
        rule=outcome.rule,
        mapped=outcome.mapped,
        record_id=outcome.record_id,
        version=outcome.version,
        imported_at=at,
        imported_by_id=actor.id,
    )


def file_rows(
    session: Session, batch: ImportBatch, settled: Sequence[Settled], *, actor: User, at: datetime
) -> None:
    """Write the files' outcomes in ``session``'s transaction, in one statement,
    replacing failed ones (only a re-run of the batch can find any)."""
    if not settled:
        return
    if batch.runs > 1:
        paths = [one.file.path for one in settled]
        for start in range(0, len(paths), _PATHS_PER_DELETE):
            session.execute(
                delete(ImportFile).where(
                    col(ImportFile.batch_id) == batch.id,
                    col(ImportFile.path).in_(paths[start : start + _PATHS_PER_DELETE]),
                )
            )
    insert_rows(session, [_row(batch, one, actor, at) for one in settled])


def audit_duplicate(
    session: Session,
    batch: ImportBatch,
    settled: Settled,
    *,
    actor: User,
    at: datetime,
    clock: Clock,
) -> None:
    """The ``import.duplicate`` entry of a duplicate sighting, on the record that holds
    the bytes, in ``session``'s transaction."""
    outcome = settled.outcome
    assert outcome.sha256 and outcome.record_id and outcome.version
    payload = DuplicatePayload(
        sha256=outcome.sha256,
        version=outcome.version,
        provenance=provenance(batch, settled.file, settled.size, actor, at),
    )
    subject = f"record:{outcome.record_id}"
    _audit(session, actor, AuditAction.IMPORT_DUPLICATE, subject, payload, clock)


def import_record_id(batch: ImportBatch, path: str) -> str:
    """The id the record of ``path`` in ``batch`` gets: the same in every run, so a
    capture cut short leaves its object where the next run finds and replaces it."""
    return hashlib.sha256(f"import:{batch.id}:{path}".encode()).hexdigest()[:32]
