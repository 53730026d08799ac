"""Which search engine the service opens: the one place that chooses it from settings."""

from __future__ import annotations

from records_service.indexing import SearchIndex, open_whoosh_index
from records_service.settings import Settings


def open_search_index(settings: Settings) -> SearchIndex:
    """Open the configured index under ``settings.index_path`` (today always Whoosh)."""
    return open_whoosh_index(settings.index_path, lock_timeout=settings.index.lock_timeout)
