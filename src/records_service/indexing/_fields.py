"""The stored values both engines derive alike from an :class:`IndexDocument`.

Each engine adds what it stores in its own way (dates, tags, the contract's
facet field); the key and the plain values are the same for both, so a
document reads back the same whichever engine holds it.
"""

from __future__ import annotations

from typing import Any

from records_service.indexing.base import IndexDocument


def document_key(record_id: str, version: int) -> str:
    """The unique key of one record version."""
    return f"{record_id}@{version}"


def common_values(doc: IndexDocument) -> dict[str, Any]:
    """The key and the values both engines store as they are; empty optional ones left out."""
    values: dict[str, Any] = {
        "key": document_key(doc.record_id, doc.version),
        "record_id": doc.record_id,
        "version": doc.version,
        "is_current": doc.is_current,
        "title": doc.title,
        "text": doc.text,
        "record_type": doc.record_type,
        "classification": doc.classification,
        "captured_by": doc.captured_by,
        "year": doc.record_date.year,
    }
    optional = {"provider": doc.provider, "originator": doc.originator}
    values.update({name: value for name, value in optional.items() if value})
    return values
