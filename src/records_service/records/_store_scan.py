"""Reading what each record left in the blob store, for a recovery from the store.

Lists ``records/``, groups the keys by record, reads each version's sidecar and
each change note, and re-hashes each version's content against its sidecar; then
reads the disposal, contract and hold notes under ``notes/``
(:mod:`records_service.notes.read`).
Nothing here writes; :mod:`records_service.records.recovery` decides what of it
goes into the catalogue. Whatever cannot be used is a :class:`Problem` naming the
key and why: content without a sidecar, a sidecar without content, bytes that do
not match their sidecar, a sidecar or note that does not parse or does not fit
the catalogue's bounds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from records_service.bounds import Identifier, Label, Reason, SafeDate, SafeDateTime, Tags, Title
from records_service.notes.read import NotesScan, scan_notes
from records_service.records.models import Classification
from records_service.records.sidecars import SIDECAR_SUFFIX, change_note_record
from records_service.storage import BlobStore, ObjectNotFound

RECORDS_PREFIX = "records/"
_CONTENT = re.compile(r"v([1-9][0-9]{0,8})(?:-[0-9a-f]{12})?")


class Metadata(BaseModel):
    """A record's editable metadata as a sidecar or change note states it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: Title
    record_type: Identifier = Field(min_length=1)
    contract: Identifier | None = None
    tags: Tags = Field(default_factory=list)
    classification: Classification = Classification.OFFICIAL
    originator: Label | None = None
    record_date: SafeDate


class VersionSidecar(Metadata):
    """A version's sidecar; ``format`` 1 (no field) lacks the contract's details."""

    format: int = 1
    record_id: str = Field(max_length=32)
    version: int = Field(ge=1, le=10**9)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str = Field(min_length=1, max_length=200)
    filename: str = Field(min_length=1, max_length=255)
    captured_at: SafeDateTime
    captured_by: Identifier = Field(min_length=1)
    contract_details: dict[str, Any] | None = None


class ChangeNote(Metadata):
    """A change note: one edit, and the record's metadata after it."""

    format: int
    kind: Literal["change"]
    record_id: str = Field(max_length=32)
    version: int = Field(ge=1)
    sequence: int = Field(ge=0)
    changed_at: SafeDateTime
    changed_by: Identifier = Field(min_length=1)
    reason: Reason
    # [field, old value, new value] in the edit's order
    changes: list[tuple[Identifier, Any, Any]]
    contract_details: dict[str, Any] | None = None


@dataclass(frozen=True)
class FoundVersion:
    """A version whose content matches its sidecar."""

    key: str
    sidecar: VersionSidecar


@dataclass(frozen=True)
class FoundChange:
    """A change note that parsed; ``key`` is where it is stored."""

    key: str
    note: ChangeNote


@dataclass
class FoundRecord:
    """Everything usable one record left in the store, versions by number."""

    record_id: str
    versions: list[FoundVersion] = field(default_factory=list)
    changes: list[FoundChange] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """A stored object recovery could not use, and why."""

    key: str
    problem: str


@dataclass
class StoreScan:
    """What the store holds under ``records/``, checked."""

    records: list[FoundRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    first_layout_sidecars: int = 0
    content_bytes: int = 0
    notes: NotesScan = field(default_factory=NotesScan)


def group_keys(keys: Iterable[str]) -> dict[str, set[str]]:
    """Keys under ``records/`` by record id, each as the rest of its key."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        parts = key.split("/", 2)
        if len(parts) == 3 and parts[0] + "/" == RECORDS_PREFIX:
            grouped[parts[1]].add(parts[2])
    return grouped


def scan_store(
    store: BlobStore,
    *,
    verify_content: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> StoreScan:
    """Read and check every record the store holds; ``progress(done, total)`` per record.

    ``verify_content=False`` reads sidecars and notes only (the benchmark's baseline).
    """
    grouped = group_keys(store.list(RECORDS_PREFIX))
    scan = StoreScan()
    for done, record_id in enumerate(sorted(grouped), start=1):
        found = _scan_record(store, record_id, grouped[record_id], scan, verify_content)
        if found.versions:
            scan.records.append(found)
        elif found.changes:
            for change in found.changes:
                scan.problems.append(Problem(change.key, "change note of a record with no version"))
        if progress is not None:
            progress(done, len(grouped))
    scan.notes = scan_notes(store)
    scan.problems += [Problem(key, problem) for key, problem in scan.notes.problems]
    return scan


def _scan_record(
    store: BlobStore, record_id: str, names: set[str], scan: StoreScan, verify: bool
) -> FoundRecord:
    found = FoundRecord(record_id)
    prefix = f"{RECORDS_PREFIX}{record_id}/"
    numbers: dict[int, str] = {}
    for name in sorted(names):
        key = prefix + name
        if change_note_record(key) == record_id:
            _read_note(store, key, record_id, found, scan)
        elif _CONTENT.fullmatch(name):
            _read_version(store, key, names, found, scan, verify, numbers)
        elif not (name.endswith(SIDECAR_SUFFIX) and name.removesuffix(SIDECAR_SUFFIX) in names):
            what = "sidecar without its content" if name.endswith(SIDECAR_SUFFIX) else "unknown"
            scan.problems.append(Problem(key, f"{what}: not recovered"))
    found.versions.sort(key=lambda v: v.sidecar.version)
    found.changes.sort(key=lambda c: (c.note.version, c.note.sequence, c.key))
    return found


def _read_json(store: BlobStore, key: str) -> Any:
    return json.loads(b"".join(store.open(key)).decode("utf-8"))


def _read_version(
    store: BlobStore,
    key: str,
    names: set[str],
    found: FoundRecord,
    scan: StoreScan,
    verify: bool,
    numbers: dict[int, str],
) -> None:
    number = int(_CONTENT.fullmatch(key.rsplit("/", 1)[1]).group(1))  # type: ignore[union-attr]
    if key.rsplit("/", 1)[1] + SIDECAR_SUFFIX not in names:
        scan.problems.append(Problem(key, "content without its sidecar: its metadata is lost"))
        return
    try:
        sidecar = VersionSidecar.model_validate(_read_json(store, key + SIDECAR_SUFFIX))
    except (ValueError, ValidationError, ObjectNotFound) as exc:
        scan.problems.append(Problem(key + SIDECAR_SUFFIX, f"sidecar unreadable: {_first(exc)}"))
        return
    if sidecar.record_id != found.record_id or sidecar.version != number:
        scan.problems.append(
            Problem(key + SIDECAR_SUFFIX, "sidecar names another record or version")
        )
        return
    if verify and not _matches(store, key, sidecar, scan):
        return
    if number in numbers:
        scan.problems.append(Problem(key, f"a second version {number} (first: {numbers[number]})"))
        return
    numbers[number] = key
    scan.first_layout_sidecars += sidecar.format < 2
    found.versions.append(FoundVersion(key, sidecar))


def _matches(store: BlobStore, key: str, sidecar: VersionSidecar, scan: StoreScan) -> bool:
    """Whether the content's bytes hash to what its sidecar says; a problem if not."""
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in store.open(key):
            digest.update(chunk)
            size += len(chunk)
    except ObjectNotFound:
        scan.problems.append(Problem(key, "content vanished while being read"))
        return False
    scan.content_bytes += size
    if digest.hexdigest() == sidecar.sha256 and size == sidecar.size:
        return True
    scan.problems.append(
        Problem(
            key,
            f"content does not match its sidecar (sha256 {digest.hexdigest()}, {size} bytes; "
            f"the sidecar says {sidecar.sha256}, {sidecar.size} bytes): altered or damaged, "
            "not recovered",
        )
    )
    return False


def _read_note(
    store: BlobStore, key: str, record_id: str, found: FoundRecord, scan: StoreScan
) -> None:
    try:
        note = ChangeNote.model_validate(_read_json(store, key))
    except (ValueError, ValidationError, ObjectNotFound) as exc:
        scan.problems.append(Problem(key, f"change note unreadable: {_first(exc)}"))
        return
    if note.record_id != record_id:
        scan.problems.append(Problem(key, "change note names another record"))
        return
    found.changes.append(FoundChange(key, note))


def _first(exc: Exception) -> str:
    """The first line of an error, without pydantic's documentation link."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def latest_time(found: FoundRecord) -> datetime:
    """The latest moment a record's versions and notes record: its ``updated_at``."""
    times = [v.sidecar.captured_at for v in found.versions]
    times += [c.note.changed_at for c in found.changes]
    return max(times)
