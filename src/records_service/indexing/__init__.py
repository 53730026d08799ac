"""Full-text search over record versions, behind a small engine-neutral interface.

Callers use :class:`SearchIndex` and the value types; :func:`open_whoosh_index`
is the one place that names an engine.
"""

from records_service.indexing.base import (
    CLASSIFICATIONS,
    OFFICIAL,
    OFFICIAL_SENSITIVE,
    IndexBusy,
    IndexClosed,
    IndexDocument,
    IndexStats,
    QuerySyntaxError,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResult,
    Visibility,
    validate_search_query,
)
from records_service.indexing.whoosh_index import WhooshSearchIndex, open_whoosh_index

__all__ = [
    "CLASSIFICATIONS",
    "OFFICIAL",
    "OFFICIAL_SENSITIVE",
    "IndexBusy",
    "IndexClosed",
    "IndexDocument",
    "IndexStats",
    "QuerySyntaxError",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "Visibility",
    "WhooshSearchIndex",
    "open_whoosh_index",
    "validate_search_query",
]
