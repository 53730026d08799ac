"""The queue of notes still to write (``pending_notes``), emptied by the background worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime


class PendingNote(SQLModel, table=True):
    """A disposal, contract or hold note, queued by its change and written after commit."""

    __tablename__ = "pending_notes"

    id: int | None = Field(default=None, primary_key=True)
    storage_key: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    enqueued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
