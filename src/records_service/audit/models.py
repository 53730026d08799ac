"""Tables of the append-only audit log and its Merkle tree.

``audit_entries`` and ``audit_nodes`` are append-only: database triggers (see the
migrations) refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE. ``audit_head`` is
the single-row counter whose row lock serialises appends so indices are gapless.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime


class AuditEntry(SQLModel, table=True):
    """One action, in the append-only log; ``idx`` is gapless from 0."""

    __tablename__ = "audit_entries"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    action: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    subject: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    details: str = Field(sa_column=Column(Text, nullable=False))


class AuditNode(SQLModel, table=True):
    """Hash of a perfect aligned subtree: leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "audit_nodes"

    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditHead(SQLModel, table=True):
    """The log's size; its row lock serialises appends."""

    __tablename__ = "audit_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint (C2SP signed note), also written to write-once storage."""

    __tablename__ = "audit_checkpoints"

    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    storage_key: str = Field(sa_column=Column(String(512), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
