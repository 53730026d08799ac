"""API shapes of the transparency register: an item, and recording a publication."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from records_service.bounds import Identifier, SafeDate, check_text
from records_service.transparency.models import ItemKind

ItemKey = Annotated[
    str, StringConstraints(min_length=3, max_length=200), AfterValidator(check_text)
]
Location = Annotated[
    str, StringConstraints(min_length=1, max_length=500), AfterValidator(check_text)
]
ItemState = Literal["published", "overdue", "due"]


class GrantDetails(BaseModel):
    """What the Order publishes of a crime and disorder reduction grant."""

    recipient: str | None
    purpose: str | None
    conditions: str | None
    reasons: str | None


class RegisterItemPublic(BaseModel):
    """One item the Order requires to be published, and whether, when and where it was."""

    item: str = Field(description="The item's key, e.g. contract:OPCC-2023-014.")
    kind: ItemKind
    description: str
    contract: str | None
    record: str | None = Field(description="The tender or decision record, for those kinds.")
    title: str
    counterparty: str | None
    value_pence: int | None
    value: str | None
    due_from: date
    publish_by: date | None
    state: ItemState
    days_overdue: int
    published_on: date | None
    location: str | None
    copy_record: str | None
    copy_held: bool | None
    grant: GrantDetails | None


class PublicationIn(BaseModel):
    """A register item published: when, where (a URL or a reference), and the record of
    the copy published (for a contract, normally the signed contract)."""

    model_config = ConfigDict(extra="forbid")

    item: ItemKey = Field(examples=["contract:OPCC-2023-014"])
    published_on: SafeDate
    location: Location = Field(examples=["https://www.example-pcc.gov.uk/contracts/014"])
    copy_record: Identifier | None = None


class PublicationPublic(BaseModel):
    """A recorded publication."""

    model_config = ConfigDict(from_attributes=True)

    item_key: str
    kind: str
    published_on: date
    location: str
    copy_record_id: str | None
    recorded_at: datetime
    recorded_by: str
