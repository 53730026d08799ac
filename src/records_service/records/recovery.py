"""Rebuilding the catalogue's records from the blob store (``recover --from-store``).

Takes what :mod:`records_service.records._store_scan` read and checked and adds to
the database what it lacks: records, versions, tags, classification, capturers
and dates from the sidecars; contracts by reference, with their details where a
sidecar kept them; each record's edits and latest metadata from its change notes.

It only ever adds. On an empty database everything found is added; on one
restored from an older backup, only records, versions and edits it does not hold
(a second run adds nothing). A record the catalogue holds is changed only when
the store holds something newer for it. Users cannot be recovered: a name a
sidecar gives that the database does not know gets a *placeholder account*,
disabled, with no password and no API token (so nobody can sign in as it, and no
password or token set by mistake lets anyone in before it is enabled) and the
least role, ``staff`` (a user holds at least one), so that the rows naming it can
exist. Once an administrator has checked who the person is, ``users enable``,
``users passwd`` and ``users roles`` give them their account back, and they see
again the sensitive records they captured. The report lists them; the name of
someone who has left simply stays disabled. Every record added or changed is
queued for indexing; its versions are queued for text extraction by being new.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, insert
from sqlmodel import Session, select

from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.contracts.service import apply_details, contract_from_details
from records_service.db import read_scope, session_scope
from records_service.notes.read import NotesScan
from records_service.records._store_scan import (
    FoundChange,
    FoundRecord,
    FoundVersion,
    Metadata,
    Problem,
    StoreScan,
    latest_time,
)
from records_service.records.models import (
    DISPOSED_STATUSES,
    IndexTask,
    MetadataChange,
    Record,
    RecordStatus,
    RecordTag,
    TextStatus,
    Version,
)

BATCH = 500
# In the order their keys need them (see _Rows).
_TABLES: tuple[Table, ...] = tuple(
    model.__table__  # type: ignore[union-attr]
    for model in (Record, Version, RecordTag, MetadataChange, IndexTask)
)
PLACEHOLDER_NAME = "recovered from the store: not a verified account"
# A user holds at least one role. Staff is the least: it sees no one else's sensitive
# records (reviewer and auditor see them all) and is what every new account starts with.
PLACEHOLDER_ROLE = "staff"


@dataclass
class RecordsRecovered:
    """What a recovery added to the catalogue, and what it could not use."""

    records_found: int = 0
    records_added: int = 0
    records_updated: list[str] = field(default_factory=list)
    versions_found: int = 0
    versions_added: int = 0
    changes_found: int = 0
    changes_added: int = 0
    contracts_added: list[str] = field(default_factory=list)
    contracts_updated: list[str] = field(default_factory=list)
    contracts_without_details: list[str] = field(default_factory=list)
    names_found: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    not_in_store: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def added_anything(self) -> bool:
        """Whether the catalogue changed."""
        return bool(
            self.records_added
            or self.records_updated
            or self.contracts_added
            or self.contracts_updated
            or self.placeholders
        )


@dataclass
class _Catalogue:
    """What the database already holds, by the keys recovery matches on."""

    records: dict[str, tuple[str, int]]  # id -> (status, current version)
    version_keys: set[str]
    users: dict[str, int]
    contracts: dict[str, int]
    # records a disposal note names: what the store still holds of them is deleted by
    # the retention step (:mod:`records_service.retention.recovered`), not taken in
    noted_disposals: set[str] = field(default_factory=set)


def recover_records(
    engine: Engine,
    scan: StoreScan,
    *,
    clock: Clock,
    progress: Callable[[int, int], None] | None = None,
) -> RecordsRecovered:
    """Add what ``scan`` found and the catalogue lacks; ``progress(done, total)`` per batch."""
    outcome = RecordsRecovered(problems=list(scan.problems), records_found=len(scan.records))
    outcome.versions_found = sum(len(r.versions) for r in scan.records)
    outcome.changes_found = sum(len(r.changes) for r in scan.records)
    catalogue = _load(engine)
    outcome.names_found = sorted(_names(scan.records) | _noted_names(scan.notes))
    _add_users(engine, catalogue, outcome, clock)
    _add_contracts(engine, catalogue, scan, outcome)
    catalogue.noted_disposals = {note.record_id for _, note in scan.notes.disposals}
    found_ids = {r.record_id for r in scan.records} | catalogue.noted_disposals
    outcome.not_in_store = sorted(
        rid
        for rid, (status, _) in catalogue.records.items()
        if rid not in found_ids and status not in DISPOSED_STATUSES
    )
    for start in range(0, len(scan.records), BATCH):
        with session_scope(engine) as session:
            rows = _Rows()
            for found in scan.records[start : start + BATCH]:
                _recover_one(session, found, catalogue, outcome, rows, clock)
            rows.insert(session)
        if progress is not None:
            progress(min(start + BATCH, len(scan.records)), len(scan.records))
    return outcome


@dataclass
class _Rows:
    """New rows of one batch, by table, inserted together in the order the keys need.

    Plain values rather than model objects: at 100,000 records building the objects
    cost more than inserting the rows.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        conn = session.connection()
        batches = (self.records, self.versions, self.tags, self.changes, self.tasks)
        for table, values in zip(_TABLES, batches, strict=True):
            if values:
                conn.execute(insert(table), values)


def _load(engine: Engine) -> _Catalogue:
    with read_scope(engine) as session:
        records = {
            rid: (status, current)
            for rid, status, current in session.exec(
                select(Record.id, Record.status, Record.current_version)
            )
        }
        keys = set(session.exec(select(Version.storage_key)))
        users = {name: uid for uid, name in session.exec(select(User.id, User.username)) if uid}
        contracts = {
            ref: cid for cid, ref in session.exec(select(Contract.id, Contract.reference)) if cid
        }
    return _Catalogue(records, keys, users, contracts)


def _details_names(details: dict[str, Any] | None) -> list[str]:
    if not details:
        return []
    return [n for n in (details.get("created_by"), details.get("updated_by")) if isinstance(n, str)]


def _names(records: Iterable[FoundRecord]) -> set[str]:
    """Every user name the sidecars and notes give."""
    names: set[str] = set()
    for found in records:
        for version in found.versions:
            names.add(version.sidecar.captured_by)
            names.update(_details_names(version.sidecar.contract_details))
        for change in found.changes:
            names.add(change.note.changed_by)
            names.update(_details_names(change.note.contract_details))
    return names


def _noted_names(notes: NotesScan) -> set[str]:
    """Every user name the disposal and contract notes give."""
    names: set[str] = set()
    for _, note in notes.disposals:
        names.add(note.record.captured_by)
        names.update(v.captured_by for v in note.record.versions)
        names.update(_details_names(note.record.contract_details))
    for _, contract in notes.contracts:
        names.update(_details_names(contract.details))
    return names


def _add_users(
    engine: Engine, catalogue: _Catalogue, outcome: RecordsRecovered, clock: Clock
) -> None:
    """A disabled placeholder account, without any way in, for each name the database lacks."""
    missing = [name for name in outcome.names_found if name not in catalogue.users]
    if not missing:
        return
    with session_scope(engine) as session:
        for name in missing:
            user = User(
                username=name,
                display_name=PLACEHOLDER_NAME,
                roles=PLACEHOLDER_ROLE,
                disabled=True,
                created_at=clock(),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            catalogue.users[name] = user.id
    outcome.placeholders = missing


@dataclass
class _ContractSeen:
    """The newest details seen for a reference, or who first filed under it."""

    details: dict[str, Any] | None = None
    changed: tuple[str, int] = ("", -1)  # its updated_at; a contract note's sequence
    first_by: str = ""
    first_at: datetime | None = None


# (the contract a record names, that contract's details then, by whom and when)
_ContractSource = tuple[str | None, dict[str, Any] | None, str, datetime]


def _contract_sources(scan: StoreScan) -> Iterator[_ContractSource]:
    """Every mention of a contract with its details: sidecars, change notes and the
    records of disposal notes."""
    for found in scan.records:
        for v in found.versions:
            s = v.sidecar
            yield s.contract, s.contract_details, s.captured_by, s.captured_at
        for c in found.changes:
            yield c.note.contract, c.note.contract_details, c.note.changed_by, c.note.changed_at
    for _, note in scan.notes.disposals:
        r = note.record
        yield r.contract, r.contract_details, r.captured_by, r.captured_at


def _contracts_seen(scan: StoreScan) -> dict[str, _ContractSeen]:
    seen: dict[str, _ContractSeen] = {}
    for contract, details, by, at in _contract_sources(scan):
        if contract is None:
            continue
        entry = seen.setdefault(contract, _ContractSeen())
        if entry.first_at is None or at < entry.first_at:
            entry.first_by, entry.first_at = by, at
        if details and details.get("reference") == contract:
            _offer(entry, details, -1)
    for _, note in scan.notes.contracts:  # the contract's own notes: every edit, in order
        if note.details.get("reference") == note.reference:
            _offer(seen.setdefault(note.reference, _ContractSeen()), note.details, note.sequence)
    return seen


def _offer(entry: _ContractSeen, details: dict[str, Any], sequence: int) -> None:
    """Keep ``details`` if they are the newest seen (a contract note wins a tie)."""
    changed = (str(details.get("updated_at", "")), sequence)
    if entry.details is None or changed > entry.changed:
        entry.details, entry.changed = details, changed


def _add_contracts(
    engine: Engine, catalogue: _Catalogue, scan: StoreScan, outcome: RecordsRecovered
) -> None:
    """Each contract a sidecar or note names that the database lacks, by reference; and
    each it holds that the store knows a later edit of, brought up to that edit."""
    seen = _contracts_seen(scan)
    with session_scope(engine) as session:
        _update_contracts(session, catalogue, seen, outcome)
        for reference in sorted(set(seen) - set(catalogue.contracts)):
            entry = seen[reference]
            details = entry.details or _bare_details(reference, entry)
            try:
                contract = contract_from_details(details, catalogue.users)
            except (ValueError, KeyError) as exc:
                problem = f"contract {reference}: details unusable ({exc}); kept by reference only"
                outcome.problems.append(Problem(f"contract:{reference}", problem))
                contract = contract_from_details(_bare_details(reference, entry), catalogue.users)
                entry.details = None
            session.add(contract)
            session.flush()
            assert contract.id is not None
            catalogue.contracts[reference] = contract.id
            outcome.contracts_added.append(reference)
            if entry.details is None:
                outcome.contracts_without_details.append(reference)


def _update_contracts(
    session: Session,
    catalogue: _Catalogue,
    seen: dict[str, _ContractSeen],
    outcome: RecordsRecovered,
) -> None:
    """Bring each held contract to the newest details the store holds, if they are newer."""
    for reference in sorted(set(seen) & set(catalogue.contracts)):
        details = seen[reference].details
        contract = session.get(Contract, catalogue.contracts[reference])
        if details is None or contract is None:
            continue
        if _moment(details.get("updated_at")) < contract.updated_at:
            continue
        try:
            changed = apply_details(contract, details, catalogue.users)
        except (ValueError, KeyError) as exc:
            problem = f"contract {reference}: details unusable ({exc}); left as the database has it"
            outcome.problems.append(Problem(f"contract:{reference}", problem))
            continue
        if changed:
            session.add(contract)
            outcome.contracts_updated.append(reference)


def _moment(value: object) -> datetime:
    """A time from details (text once stored); the earliest possible if there is none."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _bare_details(reference: str, entry: _ContractSeen) -> dict[str, Any]:
    """A contract known by its reference alone (sidecars of the first layout)."""
    return {
        "reference": reference,
        "title": reference,
        "created_at": entry.first_at,
        "updated_at": entry.first_at,
        "created_by": entry.first_by,
        "updated_by": entry.first_by,
    }


def _latest(found: FoundRecord) -> tuple[tuple[int, int, int], Metadata]:
    """The record's newest metadata: of its latest version's sidecar and the notes after it.

    A note made while version N was current comes after N's sidecar and before N+1's.
    """
    candidates: list[tuple[tuple[int, int, int], Metadata]] = [
        ((v.sidecar.version, 0, 0), v.sidecar) for v in found.versions
    ]
    candidates += [((c.note.version, 1, c.note.sequence), c.note) for c in found.changes]
    return max(candidates, key=lambda item: item[0])


def _recover_one(
    session: Session,
    found: FoundRecord,
    catalogue: _Catalogue,
    outcome: RecordsRecovered,
    rows: _Rows,
    clock: Clock,
) -> None:
    held = catalogue.records.get(found.record_id)
    if held is None:
        _add_record(found, catalogue, outcome, rows)
    elif held[0] in DISPOSED_STATUSES:
        if found.record_id not in catalogue.noted_disposals:
            problem = f"the catalogue says this record was {held[0]}: its objects are not taken in"
            outcome.problems.append(Problem(f"records/{found.record_id}/", problem))
        return
    elif not _extend_record(session, found, catalogue, outcome):
        return
    rows.tasks.append({"record_id": found.record_id, "op": "upsert", "enqueued_at": clock()})


def _add_record(
    found: FoundRecord, catalogue: _Catalogue, outcome: RecordsRecovered, rows: _Rows
) -> None:
    first = found.versions[0].sidecar
    _, metadata = _latest(found)
    current = found.versions[-1].sidecar.version
    rows.records.append(
        {
            "id": found.record_id,
            "status": RecordStatus.ACTIVE.value,
            "current_version": current,
            "captured_at": first.captured_at,
            "captured_by_id": catalogue.users[first.captured_by],
            "updated_at": latest_time(found),
            **_fields(metadata, catalogue),
        }
    )
    rows.versions += [_version(found.record_id, v, catalogue) for v in found.versions]
    rows.tags += [{"record_id": found.record_id, "tag": t} for t in metadata.tags]
    rows.changes += [row for c in found.changes for row in _history(c, catalogue)]
    catalogue.records[found.record_id] = (RecordStatus.ACTIVE.value, current)
    outcome.records_added += 1
    outcome.versions_added += len(found.versions)
    outcome.changes_added += len(found.changes)


def _fields(metadata: Metadata, catalogue: _Catalogue) -> dict[str, Any]:
    """The record's columns that its metadata sets."""
    return {
        "title": metadata.title,
        "record_type": metadata.record_type,
        "contract_id": catalogue.contracts[metadata.contract] if metadata.contract else None,
        "classification": metadata.classification.value,
        "originator": metadata.originator,
        "record_date": metadata.record_date,
    }


def _version(record_id: str, found: FoundVersion, catalogue: _Catalogue) -> dict[str, Any]:
    """A version row (text extraction pending, as after a capture)."""
    sidecar = found.sidecar
    return {
        "record_id": record_id,
        "number": sidecar.version,
        "sha256": sidecar.sha256,
        "size": sidecar.size,
        "media_type": sidecar.media_type,
        "original_filename": sidecar.filename,
        "storage_key": found.key,
        "text_status": TextStatus.PENDING.value,
        "captured_at": sidecar.captured_at,
        "captured_by_id": catalogue.users[sidecar.captured_by],
    }


def _history(change: FoundChange, catalogue: _Catalogue) -> list[dict[str, Any]]:
    """The history rows of one edit, as the edit wrote them."""
    note = change.note
    return [
        {
            "record_id": note.record_id,
            "field": name,
            "old_value": json.dumps(old),
            "new_value": json.dumps(new),
            "reason": note.reason,
            "changed_at": note.changed_at,
            "changed_by_id": catalogue.users[note.changed_by],
        }
        for name, old, new in note.changes
    ]


def _extend_record(
    session: Session, found: FoundRecord, catalogue: _Catalogue, outcome: RecordsRecovered
) -> bool:
    """Add the versions and edits of a record the catalogue holds that it lacks.

    Returns whether anything was added. A stored version whose number the
    catalogue gives to other content is a problem, not taken in.
    """
    current = catalogue.records[found.record_id][1]
    versions = []
    for version in found.versions:
        if version.key in catalogue.version_keys:
            continue
        if version.sidecar.version <= current:
            problem = f"the catalogue holds other content as version {version.sidecar.version}"
            outcome.problems.append(Problem(version.key, problem + ": not taken in"))
            continue
        versions.append(version)
    changes = _new_changes(session, found)
    if not versions and not changes:
        return False
    record = session.get(Record, found.record_id)
    assert record is not None
    extra = _Rows(
        versions=[_version(record.id, v, catalogue) for v in versions],
        changes=[row for c in changes for row in _history(c, catalogue)],
    )
    extra.insert(session)
    _refresh(session, record, found, [*versions, *changes], catalogue)
    outcome.records_updated.append(record.id)
    outcome.versions_added += len(versions)
    outcome.changes_added += len(changes)
    return True


def _new_changes(session: Session, found: FoundRecord) -> list[FoundChange]:
    """The record's change notes whose edit the catalogue's history lacks."""
    if not found.changes:
        return []
    rows = session.exec(select(MetadataChange).where(MetadataChange.record_id == found.record_id))
    held = {(r.changed_at, r.field, r.new_value, r.reason) for r in rows}
    return [
        change
        for change in found.changes
        if not all(
            (change.note.changed_at, name, json.dumps(new), change.note.reason) in held
            for name, _, new in change.note.changes
        )
    ]


def _refresh(
    session: Session,
    record: Record,
    found: FoundRecord,
    added: list[FoundVersion | FoundChange],
    catalogue: _Catalogue,
) -> None:
    """Move a held record to what was added: its newest version, and its newest
    metadata if that is among what was added."""
    order, metadata = _latest(found)
    newest = [v.sidecar.version for v in added if isinstance(v, FoundVersion)]
    record.current_version = max([record.current_version, *newest])
    record.updated_at = max(record.updated_at, latest_time(found))
    if _is_among(order, added):
        for name, value in _fields(metadata, catalogue).items():
            setattr(record, name, value)
        for tag in session.exec(select(RecordTag).where(RecordTag.record_id == record.id)):
            session.delete(tag)
        session.flush()
        session.add_all(RecordTag(record_id=record.id, tag=t) for t in metadata.tags)
    session.add(record)
    catalogue.records[record.id] = (record.status, record.current_version)


def _is_among(order: tuple[int, int, int], added: list[FoundVersion | FoundChange]) -> bool:
    for item in added:
        if isinstance(item, FoundVersion) and order == (item.sidecar.version, 0, 0):
            return True
        if isinstance(item, FoundChange) and order == (item.note.version, 1, item.note.sequence):
            return True
    return False
