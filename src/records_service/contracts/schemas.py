"""API shapes of a contract: what clients send to create or change one, and what they get."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from records_service.bounds import Label, LongName, Pence, SafeDate, Title
from records_service.contracts.models import ContractStatus

REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/._-]{1,63}$"


class _DatesCheck(BaseModel):
    start_date: SafeDate | None = None
    end_date: SafeDate | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class ContractCreate(_DatesCheck):
    """A new contract or grant."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(pattern=REFERENCE_PATTERN, examples=["OPCC-2023-014"])
    title: Title
    provider: LongName | None = None
    funding_stream: Label | None = Field(None, examples=["MoJ Victims Grant"])
    awarded_value_pence: Pence | None = Field(None, description="Awarded value in pence.")
    status: ContractStatus = ContractStatus.PLANNED
    is_deed: bool = False
    owner: Label | None = None
    closed_on: SafeDate | None = None


class ContractUpdate(BaseModel):
    """Changed fields of a contract; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _required_stay(self) -> Self:
        for name in ("title", "status", "is_deed"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be removed, only changed")
        return self

    title: Title | None = None
    provider: LongName | None = None
    funding_stream: Label | None = None
    awarded_value_pence: Pence | None = None
    start_date: SafeDate | None = None
    end_date: SafeDate | None = None
    closed_on: SafeDate | None = None
    status: ContractStatus | None = None
    is_deed: bool | None = None
    owner: Label | None = None


class ContractPublic(BaseModel):
    """A contract as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    reference: str
    title: str
    provider: str | None
    funding_stream: str | None
    awarded_value_pence: int | None
    start_date: date | None
    end_date: date | None
    closed_on: date | None
    status: ContractStatus
    is_deed: bool
    owner: str | None
    created_at: datetime
    updated_at: datetime
