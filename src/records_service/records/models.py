"""Tables for records, their immutable content versions, tags, text and metadata history.

Also the records domain's outboxes, written in the same transaction as the
change they follow and emptied by the background worker: the sidecars still to
write (:class:`PendingSidecar`), the records whose objects are still to be copied
to (or removed from) the replica (:class:`PendingReplica`), and the records still
to (re)index (:class:`IndexTask`, applied by
:class:`records_service.search.feed.IndexFeed`); and the idempotency keys of
capture requests (:class:`IdempotencyKey`).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime


class Classification(StrEnum):
    """Government Security Classification markings the service handles."""

    OFFICIAL = "OFFICIAL"
    OFFICIAL_SENSITIVE = "OFFICIAL-SENSITIVE"


class RecordStatus(StrEnum):
    """A record's place in its retention life."""

    ACTIVE = "active"
    ON_HOLD = "on_hold"
    DISPOSED = "disposed"
    TRANSFERRED = "transferred"


# A record in either status has no content left in the store.
DISPOSED_STATUSES = frozenset({RecordStatus.DISPOSED.value, RecordStatus.TRANSFERRED.value})


class TextStatus(StrEnum):
    """Outcome of text extraction for one version."""

    PENDING = "pending"
    EXTRACTED = "extracted"
    EMPTY = "empty"
    FAILED = "failed"


class Record(SQLModel, table=True):
    """One declared record; its content lives in versions."""

    __tablename__ = "records"
    # Also serves lookups by contract alone (its first column), so contract_id has no
    # index of its own: one less B-tree for every capture to write.
    __table_args__ = (Index("ix_records_contract_type", "contract_id", "record_type"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    title: str = Field(max_length=300)
    record_type: str = Field(max_length=64, index=True)
    contract_id: int | None = Field(default=None, foreign_key="contracts.id")
    classification: str = Field(default=Classification.OFFICIAL.value, max_length=32)
    originator: str | None = Field(default=None, max_length=200)
    record_date: date = Field(index=True)
    # Not indexed: nearly every record is active, and without table statistics SQLite
    # preferred such an index to the contract's, scanning most of the table.
    status: str = Field(default=RecordStatus.ACTIVE.value, max_length=20)
    current_version: int = Field(default=1)
    captured_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    captured_by_id: int = Field(foreign_key="users.id", index=True)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RecordTag(SQLModel, table=True):
    """One tag on one record (tags are lower-case free text)."""

    __tablename__ = "record_tags"

    record_id: str = Field(sa_column=Column(String(32), ForeignKey("records.id"), primary_key=True))
    tag: str = Field(sa_column=Column(String(64), primary_key=True, index=True))


class Version(SQLModel, table=True):
    """One immutable content version of a record."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("record_id", "number", name="uq_versions_record_number"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(sa_column=Column(String(32), ForeignKey("records.id"), nullable=False))
    number: int
    sha256: str = Field(max_length=64, index=True)
    size: int
    media_type: str = Field(max_length=200)
    original_filename: str = Field(max_length=255)
    storage_key: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    text_status: str = Field(default=TextStatus.PENDING.value, max_length=20, index=True)
    text_reason: str | None = Field(default=None, max_length=500)
    captured_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    captured_by_id: int = Field(foreign_key="users.id")


class VersionText(SQLModel, table=True):
    """Extracted text of a version, kept for (re)indexing.

    ``ocr`` says that some of it was recognised by OCR from scanned pages or images
    (derived data: the stored original is never changed).
    """

    __tablename__ = "version_texts"

    version_id: int = Field(foreign_key="versions.id", primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    ocr: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )


class MetadataChange(SQLModel, table=True):
    """One edited metadata field: who, when, old and new values, and why."""

    __tablename__ = "metadata_changes"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), nullable=False, index=True)
    )
    field: str = Field(max_length=64)
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    new_value: str | None = Field(default=None, sa_column=Column(Text))
    reason: str = Field(max_length=1000)
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    changed_by_id: int = Field(foreign_key="users.id")


class PendingSidecar(SQLModel, table=True):
    """A version's sidecar, queued by its capture and written by the background worker."""

    __tablename__ = "pending_sidecars"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), nullable=False, index=True)
    )
    version: int
    storage_key: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    enqueued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ReplicaOp(StrEnum):
    """What the replica step does for a queued record."""

    COPY = "copy"  # copy every object under the record's prefix the replica lacks
    PURGE = "purge"  # the record was disposed of: delete its objects from the replica


class PendingReplica(SQLModel, table=True):
    """A record whose objects are to be copied to (or purged from) the replica.

    Queued by the capture's transaction and after each sidecar write; a record may
    have several rows, which the replica step handles together.
    """

    __tablename__ = "pending_replicas"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), nullable=False, index=True)
    )
    op: str = Field(default=ReplicaOp.COPY.value, max_length=10)
    enqueued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IdempotencyKey(SQLModel, table=True):
    """One client's ``Idempotency-Key`` on a capture or new-version request.

    Claimed (``pending``) before the capture starts and completed (``done``, with
    the response) in the capture's own transaction; unique per user, so two requests
    with one key can never both capture.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=10)
    token: str = Field(max_length=32)
    status_code: int | None = Field(default=None)
    response: str | None = Field(default=None, sa_column=Column(Text))
    location: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class IndexTask(SQLModel, table=True):
    """Pending index work for one record: re-index all its versions, or remove it.

    A crash between a database commit and the index commit loses nothing: the
    row stays until the single index writer has applied it.
    """

    __tablename__ = "index_tasks"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    op: str = Field(default="upsert", max_length=10)
    enqueued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RecordPart(SQLModel, table=True):
    """A record that is part of another: an attachment of an e-mail message.

    ``position`` is the attachment's place among the parts of version
    ``whole_version`` of the message; the unique constraint makes taking the parts
    of a message idempotent (a retry after a crash, or a second worker, cannot make
    the same attachment twice).
    """

    __tablename__ = "record_parts"
    __table_args__ = (
        UniqueConstraint(
            "whole_record_id", "whole_version", "position", name="uq_record_parts_position"
        ),
    )

    part_record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), primary_key=True)
    )
    whole_record_id: str = Field(
        sa_column=Column(String(32), ForeignKey("records.id"), nullable=False, index=True)
    )
    whole_version: int
    position: int


class PendingSplit(SQLModel, table=True):
    """A message version whose attachments are still to become records.

    Queued by the message's capture in the same transaction, and removed by the
    background worker once every attachment is a record (or there are none).
    """

    __tablename__ = "pending_splits"

    record_id: str = Field(sa_column=Column(String(32), ForeignKey("records.id"), primary_key=True))
    version: int = Field(primary_key=True)
    enqueued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
