"""API shapes of records, versions and metadata history."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from records_service.bounds import Identifier, Label, Reason, SafeDate, Tags, Title
from records_service.records.models import Classification


class RecordMetadata(BaseModel):
    """Metadata supplied with a capture (sent as multipart form fields)."""

    title: Title
    record_type: Identifier = Field(min_length=1)
    contract: Identifier | None = Field(None, description="Contract reference, e.g. OPCC-2023-014.")
    tags: Tags = Field(default_factory=list)
    record_date: SafeDate
    classification: Classification = Classification.OFFICIAL
    originator: Label | None = None


class RecordUpdate(BaseModel):
    """Changed metadata fields plus the reason for the change (required)."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason
    title: Title | None = None
    record_type: Identifier | None = Field(None, min_length=1)
    contract: Identifier | None = None
    tags: Tags | None = None
    record_date: SafeDate | None = None
    classification: Classification | None = None
    originator: Label | None = None


class VersionPublic(BaseModel):
    """One immutable content version."""

    number: int
    sha256: str
    size: int
    media_type: str
    original_filename: str
    text_status: str
    text_reason: str | None
    text_ocr: bool = Field(
        False, description="Some of the extracted text was recognised by OCR from scans."
    )
    captured_at: datetime
    captured_by: str


class RecordLink(BaseModel):
    """Another record named by this one: its id and title."""

    id: str
    title: str


class RecordPublic(BaseModel):
    """A record with all its versions, and the records it is linked to as "part of"."""

    id: str
    title: str
    record_type: str
    contract: str | None
    tags: list[str]
    classification: str
    originator: str | None
    record_date: date
    status: str
    current_version: int
    captured_at: datetime
    captured_by: str
    updated_at: datetime
    versions: list[VersionPublic]
    part_of: RecordLink | None = Field(
        None,
        description="The e-mail message (.eml or Outlook .msg) this record was captured "
        "from as an attachment, if the caller may see it; null for any other record.",
    )
    parts: list[RecordLink] = Field(
        default_factory=list,
        description="For an e-mail message: the records captured from its attachments "
        "that the caller may see, in the order of the message's versions and "
        "attachments (filled in the background shortly after the message's capture).",
    )


class MetadataChangePublic(BaseModel):
    """One kept change of a metadata field."""

    field: str
    old_value: object
    new_value: object
    reason: str
    changed_at: datetime
    changed_by: str
