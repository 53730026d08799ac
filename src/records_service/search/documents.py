"""Building index documents from the database, the index's source of truth.

One :class:`IndexDocument` per version of a record, carrying the record's
current metadata (title, type, contract and its provider, tags,
classification, originator, record date), the version's capture time, and the
version's extracted text. Visibility in search follows the rule for record
reads, which looks at who captured the *record*, so every version carries the
record's capturer as ``captured_by``.

Disposed and transferred records are not searchable: they produce no
documents. A version whose text extraction is still pending is given empty
text and reported as such, so the caller can index it again once the text is
there. Everything is loaded in bulk, a batch of records at a time, so a full
rebuild streams the database in bounded memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from records_service.auth.models import User
from records_service.contracts.models import Contract
from records_service.db import read_scope
from records_service.indexing.base import IndexDocument
from records_service.records.models import (
    Record,
    RecordStatus,
    RecordTag,
    TextStatus,
    Version,
    VersionText,
)

NOT_SEARCHABLE = frozenset({RecordStatus.DISPOSED.value, RecordStatus.TRANSFERRED.value})
REBUILD_BATCH = 100


@dataclass(frozen=True)
class RecordDocuments:
    """Every version of one record as index documents.

    ``text_pending`` is true when at least one version's text has not been
    extracted yet; that version's document has empty text for now.
    """

    record_id: str
    docs: tuple[IndexDocument, ...]
    text_pending: bool


def is_searchable(record: Record) -> bool:
    """Whether a record belongs in the index at all."""
    return record.status not in NOT_SEARCHABLE


@dataclass(frozen=True)
class _Related:
    """Rows shared by a batch of records, loaded with one query per table."""

    versions: dict[str, list[Version]]
    texts: dict[int, str]
    tags: dict[str, tuple[str, ...]]
    contracts: dict[int, tuple[str, str | None]]
    usernames: dict[int, str]


def _load_related(session: Session, records: Sequence[Record]) -> _Related:
    ids = [r.id for r in records]
    versions: dict[str, list[Version]] = defaultdict(list)
    rows = session.exec(
        select(Version)
        .where(col(Version.record_id).in_(ids))
        .order_by(col(Version.record_id), col(Version.number))
    )
    for version in rows:
        versions[version.record_id].append(version)
    version_ids = [v.id for vs in versions.values() for v in vs if v.id is not None]
    texts = dict(
        session.exec(
            select(VersionText.version_id, VersionText.text).where(
                col(VersionText.version_id).in_(version_ids)
            )
        ).all()
    )
    tags: dict[str, list[str]] = defaultdict(list)
    for record_id, tag in session.exec(
        select(RecordTag.record_id, RecordTag.tag).where(col(RecordTag.record_id).in_(ids))
    ):
        tags[record_id].append(tag)
    contract_ids = {r.contract_id for r in records if r.contract_id is not None}
    contracts = {
        cid: (reference, provider)
        for cid, reference, provider in session.exec(
            select(Contract.id, Contract.reference, Contract.provider).where(
                col(Contract.id).in_(contract_ids)
            )
        )
        if cid is not None
    }
    user_ids = {r.captured_by_id for r in records}
    usernames = {
        uid: name
        for uid, name in session.exec(
            select(User.id, User.username).where(col(User.id).in_(user_ids))
        )
        if uid is not None
    }
    return _Related(
        versions=dict(versions),
        texts=texts,
        tags={k: tuple(sorted(v)) for k, v in tags.items()},
        contracts=contracts,
        usernames=usernames,
    )


def _documents(record: Record, related: _Related) -> RecordDocuments:
    reference, provider = related.contracts.get(record.contract_id or -1, (None, None))
    docs = []
    pending = False
    for version in related.versions.get(record.id, []):
        pending = pending or version.text_status == TextStatus.PENDING.value
        docs.append(
            IndexDocument(
                record_id=record.id,
                version=version.number,
                is_current=version.number == record.current_version,
                title=record.title,
                text=related.texts.get(version.id or -1, ""),
                record_type=record.record_type,
                contract_ref=reference,
                provider=provider,
                tags=related.tags.get(record.id, ()),
                record_date=record.record_date,
                captured_at=version.captured_at,
                classification=record.classification,
                originator=record.originator,
                captured_by=related.usernames.get(record.captured_by_id, ""),
            )
        )
    return RecordDocuments(record.id, tuple(docs), pending)


def documents_for(session: Session, records: Sequence[Record]) -> list[RecordDocuments]:
    """Documents for each searchable record in ``records`` (others are left out).

    Raises ``ValueError`` if a record's rows cannot make a valid document.
    """
    searchable = [r for r in records if is_searchable(r)]
    if not searchable:
        return []
    related = _load_related(session, searchable)
    return [_documents(record, related) for record in searchable]


def count_searchable_versions(engine: Engine) -> int:
    """How many versions a full rebuild will index."""
    with read_scope(engine) as session:
        total = session.exec(
            select(func.count())
            .select_from(Version)
            .join(Record, col(Record.id) == col(Version.record_id))
            .where(col(Record.status).not_in(NOT_SEARCHABLE))
        ).one()
    return int(total)


def all_documents(engine: Engine, *, batch: int = REBUILD_BATCH) -> Iterator[IndexDocument]:
    """Every version of every searchable record, a batch of records per transaction.

    Records are read in id order with keyset pagination, so a record changed
    while this runs is seen either before or after the change; the change's
    index task (written in the same transaction) covers the difference.
    """
    after = ""
    while True:
        with read_scope(engine) as session:
            records = list(
                session.exec(
                    select(Record)
                    .where(col(Record.id) > after, col(Record.status).not_in(NOT_SEARCHABLE))
                    .order_by(col(Record.id))
                    .limit(batch)
                )
            )
            if not records:
                return
            found = documents_for(session, records)
        after = records[-1].id
        for item in found:
            yield from item.docs
