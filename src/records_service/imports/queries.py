"""Reading batches back: the list of batches with their counts, one batch's files,
its report, and the provenance of a record (the files it came from or was seen at).

The web pages and the command line read through these functions only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from records_service.auth.models import User
from records_service.errors import NotFound
from records_service.imports.batches import batch_counts
from records_service.imports.models import ImportBatch, ImportFile, Outcome
from records_service.imports.report import ReportRow, from_row
from records_service.pagination import PageParams


@dataclass(frozen=True)
class BatchSummary:
    """A batch with who ran it and how many files had each outcome."""

    id: int
    name: str
    source: str
    run_by: str
    started_at: datetime
    last_run_at: datetime
    finished_at: datetime | None
    runs: int
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Every file the batch has an outcome for."""
        return sum(self.counts.values())


def _summary(batch: ImportBatch, run_by: str, counts: dict[str, int]) -> BatchSummary:
    assert batch.id is not None
    return BatchSummary(
        id=batch.id,
        name=batch.name,
        source=batch.source,
        run_by=run_by,
        started_at=batch.started_at,
        last_run_at=batch.last_run_at,
        finished_at=batch.finished_at,
        runs=batch.runs,
        counts={o.value: counts.get(o.value, 0) for o in Outcome},
    )


def list_batches(session: Session, page: PageParams) -> tuple[list[BatchSummary], int]:
    """A page of batches, the latest run first, with their counts."""
    total = int(session.exec(select(func.count()).select_from(ImportBatch)).one())
    rows = list(
        session.exec(
            select(ImportBatch, User.username)
            .join(User, col(User.id) == col(ImportBatch.run_by_id))
            .order_by(col(ImportBatch.last_run_at).desc(), col(ImportBatch.id).desc())
            .offset(page.offset)
            .limit(page.page_size)
        )
    )
    counts = _counts(session, [batch.id for batch, _ in rows if batch.id is not None])
    return [_summary(b, name, counts.get(b.id or 0, {})) for b, name in rows], total


def _counts(session: Session, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    if not batch_ids:
        return found
    rows = session.exec(
        select(ImportFile.batch_id, ImportFile.outcome, func.count())
        .where(col(ImportFile.batch_id).in_(batch_ids))
        .group_by(col(ImportFile.batch_id), col(ImportFile.outcome))
    )
    for batch_id, outcome, count in rows:
        found.setdefault(batch_id, {})[outcome] = int(count)
    return found


def get_batch(session: Session, batch_id: int) -> BatchSummary:
    """One batch; ``NotFound`` if there is none with ``batch_id``."""
    row = session.exec(
        select(ImportBatch, User.username)
        .join(User, col(User.id) == col(ImportBatch.run_by_id))
        .where(ImportBatch.id == batch_id)
    ).first()
    if row is None:
        raise NotFound(f"no import batch {batch_id}")
    batch, run_by = row
    return _summary(batch, run_by, dict(batch_counts(session, batch_id)))


def batch_files(
    session: Session, batch_id: int, outcome: str | None, page: PageParams
) -> tuple[list[ImportFile], int]:
    """A page of the batch's files (those with ``outcome``, if given), by path."""
    statement = select(ImportFile).where(ImportFile.batch_id == batch_id)
    if outcome:
        statement = statement.where(ImportFile.outcome == outcome)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(ImportFile.path)).offset(page.offset).limit(page.page_size)
    )
    return list(rows), int(total)


def report_rows(session: Session, batch_id: int, chunk: int = 1000) -> Iterator[ReportRow]:
    """Every file of the batch as a report line, by path, read ``chunk`` rows at a time."""
    after = ""
    while True:
        rows = list(
            session.exec(
                select(ImportFile)
                .where(ImportFile.batch_id == batch_id, col(ImportFile.path) > after)
                .order_by(col(ImportFile.path))
                .limit(chunk)
            )
        )
        yield from (from_row(row) for row in rows)
        if len(rows) < chunk:
            return
        after = rows[-1].path


@dataclass(frozen=True)
class ProvenanceView:
    """A file an import found a record's bytes in: where, and what became of it."""

    outcome: str
    version: int | None
    path: str
    size: int
    modified_at: datetime
    batch_id: int
    batch: str
    run_by: str
    imported_at: datetime


def record_provenance(session: Session, record_id: str) -> list[ProvenanceView]:
    """The imported files a record came from (``captured``) or was seen again at
    (``duplicate``), oldest first. The caller has checked the record is visible."""
    rows = session.exec(
        select(ImportFile, ImportBatch.name, User.username)
        .join(ImportBatch, col(ImportBatch.id) == col(ImportFile.batch_id))
        .join(User, col(User.id) == col(ImportFile.imported_by_id))
        .where(ImportFile.record_id == record_id)
        .order_by(col(ImportFile.imported_at), col(ImportFile.id))
    )
    return [
        ProvenanceView(
            outcome=row.outcome,
            version=row.version,
            path=row.path,
            size=row.size,
            modified_at=row.modified_at,
            batch_id=row.batch_id,
            batch=name,
            run_by=username,
            imported_at=row.imported_at,
        )
        for row, name, username in rows
    ]
