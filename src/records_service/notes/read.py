"""Reading the notes back for a recovery from the store: parsed, checked, never written.

A note that does not parse, or does not fit the catalogue's bounds, is a problem
naming its key; the rest are returned by kind, oldest first (by their sequence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from records_service.bounds import (
    Identifier,
    Label,
    Reason,
    Reference,
    SafeDate,
    SafeDateTime,
    Tags,
    Title,
)
from records_service.notes.queue import FOLDERS, NOTES_PREFIX
from records_service.storage import BlobStore, ObjectNotFound

Name = Identifier  # a user name


class _Note(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    format: int = Field(ge=2)


class DisposedVersion(BaseModel):
    """A version of a disposed record, as the catalogue held it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    number: int = Field(ge=1, le=10**9)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str = Field(min_length=1, max_length=200)
    filename: str = Field(min_length=1, max_length=255)
    storage_key: str = Field(min_length=1, max_length=512)
    text_status: str = Field(default="failed", max_length=20)
    text_reason: str | None = Field(default=None, max_length=500)
    captured_at: SafeDateTime
    captured_by: Name = Field(min_length=1)


class DisposedRecord(BaseModel):
    """The catalogue's row of a record when it was disposed of."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: Title
    record_type: Identifier = Field(min_length=1)
    contract: Identifier | None = None
    tags: Tags = Field(default_factory=list)
    classification: str = Field(min_length=1, max_length=32)
    originator: Label | None = None
    record_date: SafeDate
    captured_at: SafeDateTime
    captured_by: Name = Field(min_length=1)
    current_version: int = Field(ge=1)
    versions: list[DisposedVersion]
    contract_details: dict[str, Any] | None = None


class DisposalNote(_Note):
    """A disposition carried out: what was disposed of, and who decided it and why."""

    kind: Literal["disposal"]
    record_id: str = Field(min_length=1, max_length=32)
    record: DisposedRecord
    disposition_id: int = Field(ge=1)
    action: Literal["destroy", "transfer"]
    rule: Identifier
    citation: str = Field(max_length=1000)
    schedule_version: str = Field(max_length=64)
    retain_until: SafeDate | None = None
    proposed_by: Name
    proposed_at: SafeDateTime
    proposal_reason: str = Field(max_length=1000)
    decision: Literal["approve"]
    approved_by: Name
    decided_at: SafeDateTime | None = None
    reason: str = Field(max_length=1000)
    executed_at: SafeDateTime
    executed_by: Name
    transfer_key: str | None = Field(default=None, max_length=512)
    transfer_sha256: str | None = Field(default=None, max_length=64)


class ContractNote(_Note):
    """A contract's details after it was created or edited; the latest wins."""

    kind: Literal["contract"]
    event: Literal["create", "update"]
    sequence: int = Field(ge=0)
    reference: Identifier = Field(min_length=1)
    details: dict[str, Any]


class NotedHold(BaseModel):
    """A hold as it stood after the event its note records."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    scope: Literal["record", "contract"]
    record_id: str | None = Field(default=None, max_length=32)
    contract: Identifier | None = None
    reference: Reference = Field(min_length=1)
    reason: Reason
    placed_by: Name
    placed_at: SafeDateTime
    released_by: Name | None = None
    released_at: SafeDateTime | None = None
    release_reason: str | None = Field(default=None, max_length=1000)


class HoldNote(_Note):
    """A hold placed or released."""

    kind: Literal["hold"]
    event: Literal["placed", "released"]
    sequence: int = Field(ge=0)
    hold: NotedHold


@dataclass
class NotesScan:
    """Every note the store holds, by kind, oldest first; and those not usable."""

    disposals: list[tuple[str, DisposalNote]] = field(default_factory=list)
    contracts: list[tuple[str, ContractNote]] = field(default_factory=list)
    holds: list[tuple[str, HoldNote]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, problem)


_MODELS: dict[str, type[_Note]] = {
    FOLDERS["disposal"]: DisposalNote,
    FOLDERS["contract"]: ContractNote,
    FOLDERS["hold"]: HoldNote,
}


def scan_notes(store: BlobStore) -> NotesScan:
    """Read every note under ``notes/`` (an old store has none)."""
    scan = NotesScan()
    for key in sorted(store.list(NOTES_PREFIX)):
        folder = key.removeprefix(NOTES_PREFIX).split("/", 1)[0]
        model = _MODELS.get(folder)
        if model is None or not key.endswith(".json"):
            scan.problems.append((key, "unknown note: not recovered"))
            continue
        try:
            note = model.model_validate(json.loads(b"".join(store.open(key)).decode("utf-8")))
        except (ValueError, ValidationError, ObjectNotFound) as exc:
            scan.problems.append((key, f"note unreadable: {first_line(exc)}"))
            continue
        if isinstance(note, DisposalNote):
            scan.disposals.append((key, note))
        elif isinstance(note, ContractNote):
            scan.contracts.append((key, note))
        elif isinstance(note, HoldNote):
            scan.holds.append((key, note))
    return scan


def first_line(exc: Exception) -> str:
    """The first line of an error, without pydantic's documentation link."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
