"""The durable queue of index work, written in the same transaction as the change.

A crash between a database commit and the index commit loses nothing: the row
stays until the single index writer has applied it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime


class IndexTask(SQLModel, table=True):
    """Pending index work for one record: re-index all its versions, or remove it."""

    __tablename__ = "index_tasks"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    op: str = Field(default="upsert", max_length=10)
    enqueued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
