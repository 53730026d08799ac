"""Moving a deployment from one engine to another without a gap in search.

:class:`UpgradingIndex` is a :class:`SearchIndex` made of two: the index of the
engine now chosen (``new``), which is empty and flagged ``needs_rebuild`` until
its first complete rebuild, and the complete index of the engine used before
(``previous``). Until ``new`` is complete, searches answer from ``previous`` and
writes go to both, so the old answers stay current; the rebuild itself goes to
``new``. Once ``new`` is complete (seen through its pointer on disk, so every
process switches, not only the one that rebuilt), ``previous`` is no longer
read or written. Its files stay where they were: deleting them is left to the
operator (see docs/search.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from records_service.indexing.base import (
    IndexDocument,
    IndexStats,
    Progress,
    SearchIndex,
    SearchQuery,
    SearchResult,
    Visibility,
)


class UpgradingIndex:
    """Answers from ``previous`` until ``new`` has been rebuilt, then from ``new`` alone."""

    def __init__(self, new: SearchIndex, previous: SearchIndex, *, previous_name: str) -> None:
        self._new = new
        self._previous = previous
        self.previous_name = previous_name

    @property
    def upgrading(self) -> bool:
        """True while searches still answer from the previous engine's index."""
        return self._new.needs_rebuild

    @property
    def needs_rebuild(self) -> bool:
        """The new index's flag: true until its first complete rebuild."""
        return self._new.needs_rebuild

    def add_or_replace(self, docs: Iterable[IndexDocument]) -> None:
        """Write to the new index, and to the previous one while it still answers."""
        batch = list(docs)
        self._new.add_or_replace(batch)
        if self.upgrading:
            self._previous.add_or_replace(batch)

    def remove_record(self, record_id: str) -> None:
        """Remove from the new index, and from the previous one while it still answers."""
        self._new.remove_record(record_id)
        if self.upgrading:
            self._previous.remove_record(record_id)

    def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult:
        """Search the previous index until the new one is complete."""
        answering = self._previous if self.upgrading else self._new
        return answering.search(query, visibility)

    def rebuild(
        self, docs: Iterable[IndexDocument], progress: Progress | None = None, *, processes: int = 1
    ) -> int:
        """Build the new index; searches move to it when it is complete."""
        return self._new.rebuild(docs, progress, processes=processes)

    def stats(self) -> IndexStats:
        """The new index's stats, saying which engine answers while it is built."""
        stats = self._new.stats()
        if self.upgrading:
            return dataclasses.replace(stats, answering_from=self.previous_name)
        return stats

    def close(self) -> None:
        """Close both indexes."""
        try:
            self._new.close()
        finally:
            self._previous.close()
