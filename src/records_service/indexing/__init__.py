"""Full-text search over record versions, behind a small engine-neutral interface.

Callers use :class:`SearchIndex` and the value types; :func:`open_tantivy_index`
and :func:`open_whoosh_index` are the only places that name an engine.

The Whoosh engine is imported on first use of its names: Whoosh costs each
process about 4 MiB, for nothing where tantivy is the engine.
"""

from typing import TYPE_CHECKING, Any

from records_service.indexing.base import (
    CLASSIFICATIONS,
    OFFICIAL,
    OFFICIAL_SENSITIVE,
    IndexBusy,
    IndexClosed,
    IndexDamaged,
    IndexDocument,
    IndexFailure,
    IndexStats,
    Progress,
    QuerySyntaxError,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResult,
    Visibility,
    validate_search_query,
)
from records_service.indexing.tantivy_index import TantivySearchIndex, open_tantivy_index

if TYPE_CHECKING:
    from records_service.indexing.whoosh_index import WhooshSearchIndex, open_whoosh_index

__all__ = [
    "CLASSIFICATIONS",
    "OFFICIAL",
    "OFFICIAL_SENSITIVE",
    "IndexBusy",
    "IndexClosed",
    "IndexDamaged",
    "IndexDocument",
    "IndexFailure",
    "IndexStats",
    "Progress",
    "QuerySyntaxError",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "TantivySearchIndex",
    "Visibility",
    "WhooshSearchIndex",
    "open_tantivy_index",
    "open_whoosh_index",
    "validate_search_query",
]


def __getattr__(name: str) -> Any:
    if name in ("WhooshSearchIndex", "open_whoosh_index"):
        from records_service.indexing import whoosh_index

        return getattr(whoosh_index, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
