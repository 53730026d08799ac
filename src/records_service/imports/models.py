"""Tables of bulk imports: each batch, and each file of a batch with its outcome.

A row of ``import_files`` is the provenance of what became of one file: its path in
the source, size and modification time, its SHA-256, and the record (and version) it
became (``captured``) or whose bytes it repeats (``duplicate``: a sighting of that
record at another path). A captured file's row is written in the same transaction
as its record, so a batch resumed after a crash finds exactly the files still to do.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime

MAX_PATH_LENGTH = 1000
MAX_BATCH_NAME_LENGTH = 200


class Outcome(StrEnum):
    """What became of one file of a batch."""

    CAPTURED = "captured"  # a new record
    DUPLICATE = "duplicate"  # bytes already held: a sighting of that record
    UNMATCHED = "unmatched"  # no rule matched: left out, never guessed
    SKIPPED = "skipped"  # a rule says to leave it out
    FAILED = "failed"  # refused (a reason says why); tried again when the batch is re-run


# Outcomes a re-run leaves alone; a failed file is tried again.
FINAL_OUTCOMES = frozenset(
    {
        Outcome.CAPTURED.value,
        Outcome.DUPLICATE.value,
        Outcome.UNMATCHED.value,
        Outcome.SKIPPED.value,
    }
)


class ImportBatch(SQLModel, table=True):
    """One import of a source (a directory tree or a zip) under a mapping."""

    __tablename__ = "import_batches"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(MAX_BATCH_NAME_LENGTH), unique=True, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    mapping_sha256: str = Field(max_length=64)
    run_by_id: int = Field(foreign_key="users.id")
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The latest run's start and end; ``finished_at`` is None while a run is unfinished.
    last_run_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    runs: int = Field(default=1)


class ImportFile(SQLModel, table=True):
    """One file of a batch and what became of it."""

    __tablename__ = "import_files"
    __table_args__ = (UniqueConstraint("batch_id", "path", name="uq_import_files_batch_path"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(
        sa_column=Column(Integer, ForeignKey("import_batches.id"), nullable=False)
    )
    path: str = Field(sa_column=Column(String(MAX_PATH_LENGTH), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    modified_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sha256: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=20)
    reason: str = Field(default="", max_length=500)
    rule: int | None = None  # the line of the matching rule in the mapping file
    # The mapped metadata, as JSON (what the report shows for the file).
    mapped: str | None = Field(default=None, sa_column=Column(Text))
    record_id: str | None = Field(
        default=None, sa_column=Column(String(32), ForeignKey("records.id"), index=True)
    )
    version: int | None = None
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    imported_by_id: int = Field(foreign_key="users.id")
