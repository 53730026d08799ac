"""The one table of the register: each publication recorded, with when and where.

Everything else in the register (which items must be published, and by when) is
derived from the case files each time, so it can never disagree with them. A
publication is recorded once per item and never changed.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime


class ItemKind(StrEnum):
    """What the Order requires to be published."""

    CONTRACT = "contract"
    TENDER = "tender"
    GRANT = "grant"
    DECISION = "decision"


class Publication(SQLModel, table=True):
    """Where and when one register item was published, and the record of what was."""

    __tablename__ = "transparency_publications"

    id: int | None = Field(default=None, primary_key=True)
    # "contract:REF", "tender:RECORD", "grant:REF" or "decision:RECORD".
    item_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(max_length=20)
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", index=True)
    published_on: date
    location: str = Field(max_length=500)
    copy_record_id: str | None = Field(
        default=None, sa_column=Column(String(32), ForeignKey("records.id"), index=True)
    )
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(max_length=64)
