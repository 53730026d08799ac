"""The contract (case file) table: a commissioned service or grant through its lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from records_service.sqltypes import PenceType, UTCDateTime


class ContractStatus(StrEnum):
    """Where a contract is in its lifecycle."""

    PLANNED = "planned"
    TENDERING = "tendering"
    AWARDED = "awarded"
    ACTIVE = "active"
    CLOSED = "closed"
    TERMINATED = "terminated"


class Contract(SQLModel, table=True):
    """A commissioned service or grant; money is in integer pence."""

    __tablename__ = "contracts"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    title: str = Field(max_length=300)
    provider: str | None = Field(default=None, max_length=300, index=True)
    funding_stream: str | None = Field(default=None, max_length=200)
    awarded_value_pence: int | None = Field(default=None, sa_column=Column(PenceType()))
    start_date: date | None = Field(default=None)
    end_date: date | None = Field(default=None)
    closed_on: date | None = Field(default=None)
    status: str = Field(default=ContractStatus.PLANNED.value, max_length=20, index=True)
    is_deed: bool = Field(default=False)
    owner: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by_id: int = Field(foreign_key="users.id")
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by_id: int = Field(foreign_key="users.id")
