"""The Whoosh schema, its version, and the mapping between documents and fields.

Bump :data:`SCHEMA_VERSION` whenever a field, an analyzer or a stored value
changes: an index written under another version is reported as needing a
rebuild. Every field needed to rebuild an :class:`IndexDocument` is stored,
so a version can be re-added with its ``is_current`` flag flipped without the
caller sending it again. The full text is stored for snippets; Whoosh's
codec already deflates each document's stored fields, so compressing it here
as well only costs time (see docs/search.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from whoosh import analysis, fields
from whoosh.support.charset import accent_map

from records_service.indexing._analysis import STOP_WORDS
from records_service.indexing._fields import common_values
from records_service.indexing.base import IndexDocument

SCHEMA_VERSION = 2
# Versions an upgrade may still search (Whoosh keeps each index's own analyzers).
READABLE_VERSIONS = frozenset({1, 2})


def _prose_analyzer() -> analysis.Analyzer:
    # Accents are folded before stemming so "résumés" and "resumes" share a stem.
    # Dropped words leave a gap in the positions, as tantivy's stop-word filter does.
    return (
        analysis.RegexTokenizer()
        | analysis.LowercaseFilter()
        | analysis.CharsetFilter(accent_map)
        | analysis.StopFilter(stoplist=STOP_WORDS, renumber=False)
        | analysis.StemFilter()
    )


def _folded_id() -> analysis.Analyzer:
    return analysis.IDTokenizer() | analysis.LowercaseFilter()


def build_schema() -> fields.Schema:
    """Return the schema for :data:`SCHEMA_VERSION`."""
    prose = _prose_analyzer()
    return fields.Schema(
        key=fields.ID(unique=True),
        record_id=fields.ID(stored=True),
        version=fields.NUMERIC(int, stored=True, signed=False),
        is_current=fields.BOOLEAN(stored=True),
        title=fields.TEXT(analyzer=prose, stored=True),
        # Character offsets let snippets skip re-analysing long texts.
        text=fields.TEXT(analyzer=prose, stored=True, chars=True),
        provider=fields.TEXT(analyzer=prose, stored=True),
        originator=fields.TEXT(analyzer=prose, stored=True),
        # Sortable columns keep the value as given, so facets show "OPCC-7", not "opcc-7".
        record_type=fields.ID(stored=True, sortable=True, analyzer=_folded_id()),
        contract_ref=fields.ID(stored=True, sortable=True, analyzer=_folded_id()),
        tags=fields.KEYWORD(stored=True, lowercase=True, commas=True, scorable=True),
        classification=fields.ID(stored=True, analyzer=_folded_id()),
        captured_by=fields.ID(stored=True),
        record_date=fields.DATETIME(stored=True, sortable=True),
        captured_at=fields.DATETIME(stored=True, sortable=True),
        year=fields.NUMERIC(int, sortable=True, signed=False),
    )


def to_fields(doc: IndexDocument) -> dict[str, Any]:
    """Turn a document into keyword arguments for a Whoosh writer."""
    values = common_values(doc)
    values.update(
        tags=",".join(tag.strip() for tag in doc.tags),
        record_date=day_start(doc.record_date),
        captured_at=naive_utc(doc.captured_at),
    )
    if doc.contract_ref:
        values["contract_ref"] = doc.contract_ref
    return values


def from_stored(stored: Mapping[str, Any]) -> IndexDocument:
    """Rebuild a document from the stored fields of one Whoosh document."""
    tags = tuple(tag for tag in stored.get("tags", "").split(",") if tag)
    return IndexDocument(
        record_id=stored["record_id"],
        version=int(stored["version"]),
        is_current=bool(stored["is_current"]),
        title=stored.get("title", ""),
        text=stored.get("text", ""),
        record_type=stored["record_type"],
        contract_ref=stored.get("contract_ref"),
        provider=stored.get("provider"),
        tags=tags,
        record_date=stored["record_date"].date(),
        captured_at=stored["captured_at"].replace(tzinfo=UTC),
        classification=stored["classification"],
        originator=stored.get("originator"),
        captured_by=stored["captured_by"],
    )


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day``, as Whoosh's DATETIME fields expect."""
    return datetime.combine(day, time.min)


def day_end(day: date) -> datetime:
    """The last microsecond of ``day``."""
    return datetime.combine(day, time.max)


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without tzinfo; Whoosh cannot index aware datetimes.

    A naive input is taken to be UTC already.
    """
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
