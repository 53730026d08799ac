"""Loading the synthetic corpus straight into a service database, as if captured.

The benchmark measures indexing, not capture, so records, versions, their
extracted text, tags, contracts and the capturing users are inserted in bulk
with SQL, each version marked as extracted. ``records-service reindex`` then
reads them exactly as it would read records captured through the API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Table, insert, select

from benchmarks._search_corpus import USERS, Contract
from records_service.auth.models import User
from records_service.contracts.models import Contract as ContractRow
from records_service.indexing import IndexDocument
from records_service.records.models import Record, RecordTag, Version, VersionText

BATCH = 1000
LOADED_AT = datetime(2026, 6, 1, tzinfo=UTC)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _chunks(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def load_users(engine: Engine) -> dict[str, int]:
    """The capturing users, created if missing; returns their ids by name."""
    with engine.begin() as connection:
        rows = connection.execute(select(User.username, User.id)).tuples()  # type: ignore[call-overload]
        existing: dict[str, int] = dict(rows.all())
        missing = [u for u in USERS if u not in existing]
        if missing:
            connection.execute(
                insert(_table(User)),
                [
                    {
                        "username": u,
                        "display_name": u,
                        "roles": "staff",
                        "disabled": False,
                        "created_at": LOADED_AT,
                    }
                    for u in missing
                ],
            )
        return dict(connection.execute(select(User.username, User.id)).tuples().all())  # type: ignore[call-overload]


def load_contracts(engine: Engine, contracts: Sequence[Contract], owner: int) -> dict[str, int]:
    """Insert the contracts; returns their ids by reference."""
    rows = [
        {
            "reference": c.reference,
            "title": c.title,
            "provider": c.provider,
            "status": "active",
            "is_deed": False,
            "created_at": LOADED_AT,
            "created_by_id": owner,
            "updated_at": LOADED_AT,
            "updated_by_id": owner,
        }
        for c in contracts
    ]
    with engine.begin() as connection:
        for chunk in _chunks(rows):
            connection.execute(insert(_table(ContractRow)), chunk)
        result = connection.execute(select(ContractRow.reference, ContractRow.id))  # type: ignore[call-overload]
        return dict(result.tuples().all())


def _rows(
    doc: IndexDocument, version_id: int, contract_ids: dict[str, int], user_ids: dict[str, int]
) -> dict[str, list[dict[str, Any]]]:
    user = user_ids[doc.captured_by]
    body = doc.text.encode()
    return {
        "records": [
            {
                "id": doc.record_id,
                "title": doc.title,
                "record_type": doc.record_type,
                "contract_id": contract_ids.get(doc.contract_ref or ""),
                "classification": doc.classification,
                "originator": doc.originator,
                "record_date": doc.record_date,
                "status": "active",
                "current_version": 1,
                "captured_at": doc.captured_at,
                "captured_by_id": user,
                "updated_at": doc.captured_at,
            }
        ],
        "versions": [
            {
                "id": version_id,
                "record_id": doc.record_id,
                "number": 1,
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
                "media_type": "text/plain",
                "original_filename": "document.txt",
                "storage_key": f"records/{doc.record_id}/v1",
                "text_status": "extracted",
                "captured_at": doc.captured_at,
                "captured_by_id": user,
            }
        ],
        "texts": [{"version_id": version_id, "text": doc.text}],
        "tags": [{"record_id": doc.record_id, "tag": tag} for tag in doc.tags],
    }


def load_documents(
    engine: Engine,
    docs: Iterable[IndexDocument],
    contract_ids: dict[str, int],
    user_ids: dict[str, int],
) -> int:
    """Insert one record with one extracted version per document; returns the count."""
    tables = {
        "records": _table(Record),
        "versions": _table(Version),
        "texts": _table(VersionText),
        "tags": _table(RecordTag),
    }
    count = 0
    for chunk in _chunk_docs(docs):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for doc in chunk:
            count += 1
            for name, rows in _rows(doc, count, contract_ids, user_ids).items():
                batch[name].extend(rows)
        with engine.begin() as connection:
            for name, table in tables.items():
                if batch[name]:
                    connection.execute(insert(table), batch[name])
    return count


def _chunk_docs(docs: Iterable[IndexDocument]) -> Iterator[list[IndexDocument]]:
    iterator = iter(docs)
    while chunk := list(islice(iterator, BATCH)):
        yield chunk
