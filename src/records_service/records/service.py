"""Reading, listing and editing records; the visibility rule for sensitive records.

``OFFICIAL-SENSITIVE`` records are visible only to roles with the
``see_sensitive`` permission and to the user who captured them. A record the
caller may not see behaves exactly like one that does not exist.

The rule is written once, as the SQL condition :func:`visible_clause`; every
page, route and count that shows records, or anything derived from them (tags,
a contract's checklist, search hits), selects through it. The search index
keeps a copy of each record's classification to filter by, but search checks
its answer against this rule in the database (see
:mod:`records_service.search.service`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, Engine, false, func, or_, true
from sqlmodel import Session, col, select

from records_service.audit.actions import (
    AuditAction,
    ReadPayload,
    ReplicaReadPayload,
    UpdatePayload,
)
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.bounds import normalise_tags
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.contracts.service import contract_details, get_contract
from records_service.db import read_scope
from records_service.errors import InvalidInput, NotFound, RecordDisposed
from records_service.pagination import PageParams, Sort
from records_service.records.capture import (
    CaptureContext,
    InTransaction,
    add_version,
    check_record_date,
    check_record_type,
)
from records_service.records.models import (
    DISPOSED_STATUSES,
    Classification,
    IndexTask,
    MetadataChange,
    Record,
    RecordTag,
    Version,
    VersionText,
)
from records_service.records.replica import Opened, open_checked
from records_service.records.schemas import (
    MetadataChangePublic,
    RecordPublic,
    RecordUpdate,
    VersionPublic,
)
from records_service.records.sidecars import (
    SIDECAR_FORMAT,
    queued_change_note,
    record_metadata,
    sidecar_body,
)
from records_service.storage import BlobStore


def can_see_sensitive(user: User) -> bool:
    """Whether ``user``'s roles reveal every sensitive record."""
    return allows(user.role_set, Permission.SEE_SENSITIVE)


def visible_clause(user: User) -> ColumnElement[bool]:
    """SQL condition selecting the records ``user`` may see."""
    if can_see_sensitive(user):
        return true()
    return or_(
        col(Record.classification) != Classification.OFFICIAL_SENSITIVE.value,
        col(Record.captured_by_id) == (user.id if user.id is not None else -1),
    )


def get_record(session: Session, record_id: str, user: User) -> Record:
    """The record if it exists and ``user`` may see it; else ``NotFound``."""
    record = None
    if len(record_id) <= 32:
        statement = select(Record).where(Record.id == record_id, visible_clause(user))
        record = session.exec(statement).first()
    if record is None:
        raise NotFound(f"no record {record_id}")
    return record


def hidden_among(session: Session, user: User, record_ids: Collection[str]) -> set[str]:
    """The ids in ``record_ids`` that ``user`` may not see, or that name no record."""
    wanted = set(record_ids)
    if not wanted:
        return set()
    statement = select(Record.id).where(col(Record.id).in_(wanted), visible_clause(user))
    visible: set[str] = set(session.exec(statement))
    return wanted - visible


def tag_suggestions(session: Session, user: User, limit: int) -> list[str]:
    """The ``limit`` tags most used on records ``user`` may see, sorted, for autocompletion.

    Only visible records are counted: a tag, or its rank, must not reveal a hidden record.
    """
    uses = func.count().label("uses")
    rows = session.exec(
        select(RecordTag.tag, uses)
        .join(Record, col(Record.id) == col(RecordTag.record_id))
        .where(visible_clause(user))
        .group_by(col(RecordTag.tag))
        .order_by(uses.desc(), col(RecordTag.tag))
        .limit(limit)
    )
    return sorted(tag for tag, _ in rows)


def recent_captures(session: Session, user: User, limit: int) -> list[Record]:
    """The ``limit`` records captured last that ``user`` may see, newest first."""
    statement = (
        select(Record)
        .where(visible_clause(user))
        .order_by(col(Record.captured_at).desc(), col(Record.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def captured_by(session: Session, user: User, limit: int) -> list[Record]:
    """The ``limit`` records ``user`` captured (all visible to them), last changed first."""
    statement = (
        select(Record)
        .where(Record.captured_by_id == user.id)
        .order_by(col(Record.updated_at).desc(), col(Record.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def contract_records(session: Session, contract_id: int | None, user: User) -> list[Record]:
    """The records filed under a contract that ``user`` may see, by record date."""
    if contract_id is None:  # a contract not yet saved has nothing filed under it
        return []
    statement = (
        select(Record)
        .where(Record.contract_id == contract_id, visible_clause(user))
        .order_by(col(Record.record_date), col(Record.id))
    )
    return list(session.exec(statement))


def record_labels(
    session: Session, record_ids: Collection[str], user: User
) -> dict[str, tuple[str, str]]:
    """``id -> (title, record type)`` for the records in ``record_ids`` that ``user`` may see."""
    if not record_ids:
        return {}
    rows = session.exec(
        select(Record.id, Record.title, Record.record_type).where(
            col(Record.id).in_(set(record_ids)), visible_clause(user)
        )
    )
    return {rid: (title, record_type) for rid, title, record_type in rows}


def record_titles(
    session: Session, record_ids: Collection[str], user: User
) -> dict[str, tuple[str, str | None]]:
    """``id -> (title, contract reference or None)`` for the records in ``record_ids``
    that ``user`` may see, to name records where only their ids are kept."""
    if not record_ids:
        return {}
    rows = session.exec(
        select(Record.id, Record.title, Contract.reference)
        .join(Contract, col(Contract.id) == col(Record.contract_id), isouter=True)
        .where(col(Record.id).in_(set(record_ids)), visible_clause(user))
    )
    return {rid: (title, reference) for rid, title, reference in rows}


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.username).where(col(User.id).in_(ids)))
    return {uid: name for uid, name in rows if uid is not None}


def record_tags(session: Session, record_id: str) -> list[str]:
    """A record's tags, sorted."""
    rows = session.exec(select(RecordTag.tag).where(RecordTag.record_id == record_id))
    return sorted(rows)


def contract_reference(session: Session, contract_id: int | None) -> str | None:
    """The reference of the contract with ``contract_id``."""
    if contract_id is None:
        return None
    contract = session.get(Contract, contract_id)
    return contract.reference if contract else None


def versions_of(session: Session, record_id: str) -> list[Version]:
    """Every version of a record, oldest first."""
    statement = select(Version).where(Version.record_id == record_id).order_by(col(Version.number))
    return list(session.exec(statement))


def to_public(session: Session, record: Record) -> RecordPublic:
    """The API view of a record with all its versions."""
    versions = versions_of(session, record.id)
    names = _usernames(session, {record.captured_by_id, *(v.captured_by_id for v in versions)})
    contract = contract_reference(session, record.contract_id)
    tags = record_tags(session, record.id)
    return public_view(record, versions, names, contract, tags, _ocr_versions(session, versions))


def _ocr_versions(session: Session, versions: list[Version]) -> set[int]:
    """The ids of ``versions`` whose extracted text came (in part) from OCR."""
    ids = [v.id for v in versions if v.id is not None]
    if not ids:
        return set()
    rows = session.exec(
        select(VersionText.version_id).where(
            col(VersionText.version_id).in_(ids), col(VersionText.ocr).is_(True)
        )
    )
    return set(rows)


def captured_view(
    record: Record, version: Version, contract: str | None, tags: list[str], actor: User
) -> RecordPublic:
    """The API view of a record just captured, from the rows its capture wrote."""
    assert actor.id is not None
    return public_view(record, [version], {actor.id: actor.username}, contract, sorted(tags))


def public_view(
    record: Record,
    versions: list[Version],
    names: dict[int, str],
    contract: str | None,
    tags: list[str],
    ocr_versions: Collection[int] = (),
) -> RecordPublic:
    """The API view of ``record`` with ``versions``; ``names`` maps user ids to names;
    ``ocr_versions`` are the ids of the versions whose text came from OCR."""
    return RecordPublic(
        id=record.id,
        title=record.title,
        record_type=record.record_type,
        contract=contract,
        tags=tags,
        classification=record.classification,
        originator=record.originator,
        record_date=record.record_date,
        status=record.status,
        current_version=record.current_version,
        captured_at=record.captured_at,
        captured_by=names.get(record.captured_by_id, "?"),
        updated_at=record.updated_at,
        versions=[
            VersionPublic(
                number=v.number,
                sha256=v.sha256,
                size=v.size,
                media_type=v.media_type,
                original_filename=v.original_filename,
                text_status=v.text_status,
                text_reason=v.text_reason,
                text_ocr=v.id in ocr_versions,
                captured_at=v.captured_at,
                captured_by=names.get(v.captured_by_id, "?"),
            )
            for v in versions
        ],
    )


@dataclass(frozen=True)
class RecordFilters:
    """Filters for listing records."""

    contract: str | None = None
    record_type: str | None = None
    tag: str | None = None
    classification: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def _filtered(session: Session, filters: RecordFilters, user: User) -> Any:
    statement = select(Record).where(visible_clause(user))
    if filters.contract:
        contract = session.exec(
            select(Contract).where(Contract.reference == filters.contract)
        ).first()
        statement = statement.where(col(Record.contract_id) == contract.id if contract else false())
    if filters.record_type:
        statement = statement.where(Record.record_type == filters.record_type)
    if filters.tag:
        tagged = select(RecordTag.record_id).where(RecordTag.tag == filters.tag.lower())
        statement = statement.where(col(Record.id).in_(tagged))
    if filters.classification:
        statement = statement.where(Record.classification == filters.classification)
    if filters.status:
        statement = statement.where(Record.status == filters.status)
    if filters.date_from:
        statement = statement.where(col(Record.record_date) >= filters.date_from)
    if filters.date_to:
        statement = statement.where(col(Record.record_date) <= filters.date_to)
    return statement


# What a list of records may be sorted by: each key's column.
RECORD_SORTS: dict[str, Any] = {
    "title": func.lower(col(Record.title)),
    "type": col(Record.record_type),
    "contract": col(Contract.reference),
    "record_date": col(Record.record_date),
    "captured": col(Record.captured_at),
}
DEFAULT_RECORD_SORT = Sort("record_date", descending=True)


def list_records(
    session: Session,
    *,
    filters: RecordFilters,
    page: PageParams,
    user: User,
    sort: Sort = DEFAULT_RECORD_SORT,
) -> tuple[list[Record], int]:
    """A page of visible records matching ``filters``, newest record date first unless
    ``sort`` names another of :data:`RECORD_SORTS`."""
    statement = _filtered(session, filters, user)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    column = RECORD_SORTS[sort.key]
    if sort.key == "contract":  # records on no contract sort after every reference
        statement = statement.join(
            Contract, col(Contract.id) == col(Record.contract_id), isouter=True
        )
    ordered = statement.order_by(
        column.desc().nulls_last() if sort.descending else column.asc().nulls_last(), col(Record.id)
    )
    rows = session.exec(ordered.offset(page.offset).limit(page.page_size))
    return list(rows), int(total)


def _json(value: object) -> str:
    return json.dumps(value.isoformat() if isinstance(value, date) else value)


def _proposed_changes(
    session: Session, record: Record, data: RecordUpdate, record_types: frozenset[str], today: date
) -> dict[str, tuple[object, object]]:
    fields = data.model_dump(exclude_unset=True, exclude={"reason"})
    changes: dict[str, tuple[object, object]] = {}
    for name, value in fields.items():
        if name == "record_type":
            check_record_type(value, record_types)
        if name == "record_date":
            if value is None:
                raise InvalidInput("record_date cannot be removed")
            check_record_date(value, today)
        if name == "title" and value is None:
            raise InvalidInput("title cannot be removed")
        if name == "contract":
            old: object = contract_reference(session, record.contract_id)
            if value is not None:
                get_contract(session, value)
        elif name == "tags":
            old, value = record_tags(session, record.id), sorted(normalise_tags(value or []))
        else:
            old = getattr(record, name)
            value = value.value if hasattr(value, "value") else value
        if old != value:
            changes[name] = (old, value)
    return changes


def update_record(
    session: Session,
    *,
    record_id: str,
    data: RecordUpdate,
    actor: User,
    record_types: frozenset[str],
    clock: Clock,
) -> tuple[Record, bool]:
    """Change a record's metadata, keeping every old value with the reason.

    Returns the record and whether anything changed: values equal to the current
    ones are no change, and then nothing is written (no history, no audit entry, no
    change note for the store).
    """
    record = get_record(session, record_id, actor)
    ensure_not_disposed(record)
    now = clock()
    changes = _proposed_changes(session, record, data, record_types, now.date())
    if not changes:
        return record, False
    edit = _Edit(record, changes, data.reason, actor)
    _write_changes(session, edit, clock=clock, now=now)
    _queue_change_note(session, edit, clock=clock)
    return record, True


@dataclass(frozen=True)
class _Edit:
    """One metadata edit: the record, each field's old and new value, why and by whom."""

    record: Record
    changes: dict[str, tuple[object, object]]
    reason: str
    actor: User


def _write_changes(session: Session, edit: _Edit, *, clock: Clock, now: datetime) -> None:
    """Apply the edit's changes, keeping each old value, and audit and reindex the record."""
    record, changes, reason, actor = edit.record, edit.changes, edit.reason, edit.actor
    assert actor.id is not None
    for name, (old, new) in changes.items():
        _apply(session, record, name, new)
        session.add(
            MetadataChange(
                record_id=record.id,
                field=name,
                old_value=_json(old),
                new_value=_json(new),
                reason=reason,
                changed_at=now,
                changed_by_id=actor.id,
            )
        )
    record.updated_at = now
    session.add(record)
    payload = UpdatePayload(
        changes={k: [_jsonable(o), _jsonable(n)] for k, (o, n) in changes.items()},
        reason=reason,
    )
    record_event(
        session,
        actor=actor.username,
        action=AuditAction.RECORD_UPDATE,
        subject=f"record:{record.id}",
        payload=payload,
        clock=clock,
    )
    session.add(IndexTask(record_id=record.id, op="upsert", enqueued_at=now))


def _changes_so_far(session: Session, record_id: str) -> int:
    """How many field changes a record's history holds: the next change note's sequence."""
    query = select(func.count()).select_from(MetadataChange)
    return int(session.exec(query.where(MetadataChange.record_id == record_id)).one())


def _queue_change_note(session: Session, edit: _Edit, *, clock: Clock) -> None:
    """Queue the write-once note of an edit: what changed, and the metadata after it.

    Its sequence is the number of history rows the record had before this edit.
    """
    record, changes = edit.record, edit.changes
    session.flush()
    sequence = _changes_so_far(session, record.id) - len(changes)
    contract = contract_reference(session, record.contract_id)
    note = {
        "format": SIDECAR_FORMAT,
        "kind": "change",
        "record_id": record.id,
        "version": record.current_version,
        "sequence": sequence,
        "changed_at": record.updated_at,
        "changed_by": edit.actor.username,
        "reason": edit.reason,
        # A list, as the note's keys are sorted: the history keeps the edit's field order.
        "changes": [[k, _jsonable(o), _jsonable(n)] for k, (o, n) in changes.items()],
        **_metadata_now(session, record, contract),
        "contract_details": contract_details(session, contract)[1] if contract else None,
    }
    session.add(
        queued_change_note(
            record_id=record.id,
            version=record.current_version,
            sequence=sequence,
            body=sidecar_body(note),
            clock=clock,
        )
    )


def _metadata_now(session: Session, record: Record, contract: str | None) -> dict[str, object]:
    """The record's metadata as sidecars and change notes carry it."""
    return record_metadata(
        title=record.title,
        record_type=record.record_type,
        contract=contract,
        tags=record_tags(session, record.id),
        classification=record.classification,
        originator=record.originator,
        record_date=record.record_date,
    )


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _apply(session: Session, record: Record, name: str, value: Any) -> None:
    if name == "contract":
        record.contract_id = get_contract(session, value).id if value else None
    elif name == "tags":
        for tag in session.exec(select(RecordTag).where(RecordTag.record_id == record.id)):
            session.delete(tag)
        session.flush()
        session.add_all(RecordTag(record_id=record.id, tag=t) for t in value)
    else:
        setattr(record, name, value)


def metadata_history(session: Session, record_id: str, user: User) -> list[MetadataChangePublic]:
    """Every kept metadata change of a record, oldest first."""
    get_record(session, record_id, user)
    rows = list(
        session.exec(
            select(MetadataChange)
            .where(MetadataChange.record_id == record_id)
            .order_by(col(MetadataChange.id))
        )
    )
    names = _usernames(session, {r.changed_by_id for r in rows})
    return [
        MetadataChangePublic(
            field=r.field,
            old_value=json.loads(r.old_value) if r.old_value else None,
            new_value=json.loads(r.new_value) if r.new_value else None,
            reason=r.reason,
            changed_at=r.changed_at,
            changed_by=names.get(r.changed_by_id, "?"),
        )
        for r in rows
    ]


def find_version(session: Session, record: Record, number: int | None) -> Version:
    """Version ``number`` of ``record`` (the current one when ``None``)."""
    wanted = number if number is not None else record.current_version
    version = session.exec(
        select(Version).where(Version.record_id == record.id, Version.number == wanted)
    ).first()
    if version is None:
        raise NotFound(f"record {record.id} has no version {wanted}")
    return version


def add_next_version(
    ctx: CaptureContext,
    *,
    record_id: str,
    source: BinaryIO,
    filename: str | None,
    actor: User,
    in_transaction: InTransaction | None = None,
) -> tuple[Record, Version]:
    """Add the next version to a record ``actor`` may see; it keeps its contract and tags.

    The API's and the web's "new version" both come here.
    """
    with read_scope(ctx.engine) as session:
        record = get_record(session, record_id, actor)
        ensure_not_disposed(record)
        contract = contract_reference(session, record.contract_id)
        details = contract_details(session, contract)[1] if contract else None
        tags = record_tags(session, record.id)
    return add_version(
        ctx,
        record=record,
        contract_ref=contract,
        tags=tags,
        source=source,
        filename=filename,
        actor=actor,
        details=details,
        in_transaction=in_transaction,
    )


def ensure_not_disposed(record: Record) -> None:
    """Refuse any further use of a record whose disposition was executed."""
    if record.status in DISPOSED_STATUSES:
        raise RecordDisposed(f"record {record.id} was {record.status}; its disposal record remains")


def open_content(
    session: Session,
    store: BlobStore,
    *,
    record_id: str,
    number: int | None,
    actor: User,
    clock: Clock,
    replica: BlobStore | None = None,
    verify: bool = True,
) -> tuple[Version, Iterator[bytes]]:
    """Audit a content read and return the version with its byte stream.

    With a ``replica``, a primary copy that is missing or unreadable (and, with
    ``verify``, one that fails its hash) is served from the replica instead, and that
    is audited as well (``record.read_replica``). The audit entries are written in the
    caller's transaction, which must commit before the stream is served. To verify,
    the copy is hashed before that transaction starts (a write transaction on SQLite
    holds the write lock), so ``session`` must not have begun one yet; a caller
    already in a transaction passes ``verify=False``.
    """
    if replica is not None and verify:
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        with read_scope(engine) as reader:
            _, found = _readable_version(reader, record_id, number, actor)
        number = found.number
        opened = open_checked(store, replica, found.storage_key, found.sha256)
    record, version = _readable_version(session, record_id, number, actor)
    if replica is None or not verify:
        opened = open_checked(store, replica, version.storage_key, None)
    _audit_read(session, record, version, actor=actor, clock=clock)
    if opened.source == "replica":
        _audit_replica_read(session, record, version, opened, actor=actor, clock=clock)
    return version, opened.chunks


def _readable_version(
    session: Session, record_id: str, number: int | None, actor: User
) -> tuple[Record, Version]:
    record = get_record(session, record_id, actor)
    ensure_not_disposed(record)
    return record, find_version(session, record, number)


def _audit_replica_read(
    session: Session, record: Record, version: Version, opened: Opened, *, actor: User, clock: Clock
) -> None:
    record_event(
        session,
        actor=actor.username,
        action=AuditAction.RECORD_READ_REPLICA,
        subject=f"record:{record.id}",
        payload=ReplicaReadPayload(
            version=version.number,
            sha256=version.sha256,
            storage_key=version.storage_key,
            problem=f"the primary copy {opened.problem}",
        ),
        clock=clock,
    )


def read_extracted_text(
    session: Session, *, record: Record, version: Version, actor: User, clock: Clock
) -> str | None:
    """The text extracted from ``version`` of ``record`` (as :func:`get_record` gave it
    to ``actor``), auditing the read; ``None``, and nothing audited, if there is none.

    Showing the extracted text shows the content, so it is audited as a read of it.
    """
    extracted = session.get(VersionText, version.id) if version.id is not None else None
    if extracted is None or not extracted.text.strip():
        return None
    _audit_read(session, record, version, actor=actor, clock=clock)
    return extracted.text


def _audit_read(
    session: Session, record: Record, version: Version, *, actor: User, clock: Clock
) -> None:
    record_event(
        session,
        actor=actor.username,
        action=AuditAction.RECORD_READ,
        subject=f"record:{record.id}",
        payload=ReadPayload(version=version.number, sha256=version.sha256),
        clock=clock,
    )


def held_version(session: Session, sha256: str) -> tuple[str, int] | None:
    """The record and version number that first captured bytes with ``sha256`` and still
    holds them (a disposed record's bytes are gone), or ``None``."""
    return held_versions(session, [sha256]).get(sha256)


def held_versions(session: Session, hashes: Collection[str]) -> dict[str, tuple[str, int]]:
    """:func:`held_version` for each of ``hashes`` that is held, in one query."""
    rows = session.exec(
        select(Version.sha256, Version.record_id, Version.number)
        .join(Record, col(Record.id) == col(Version.record_id))
        .where(col(Version.sha256).in_(hashes), col(Record.status).not_in(DISPOSED_STATUSES))
        .order_by(col(Version.captured_at), col(Version.id))
    )
    held: dict[str, tuple[str, int]] = {}
    for sha256, record_id, number in rows:
        held.setdefault(sha256, (record_id, number))
    return held
