"""The Whoosh implementation of :class:`SearchIndex`.

One object owns one index directory (see ``_generations`` for the
layout). Writes are serialised twice: a ``threading.Lock`` inside the object
for threads, and Whoosh's own file lock on the live generation for other
processes (a second process waits up to ``lock_timeout`` seconds, then gets
:class:`IndexBusy`). Searches take no lock: each opens a searcher on the
generation that is live at that moment. The pointer file is checked before
every operation, so a rebuild done by another process is picked up.

What this module leaves to callers: feeding documents (it cannot read the
database), calling :meth:`WhooshSearchIndex.rebuild` when
:attr:`WhooshSearchIndex.needs_rebuild` is true, and retrying writes that
failed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as whoosh_query
from whoosh import sorting
from whoosh.index import LockError

from records_service.indexing._generations import (
    REBUILD_LOCK,
    EngineFiles,
    GenerationsIndex,
    Pointer,
    Stamp,
    held_lock,
    open_live,
    rebuilt_generation,
    root_lock,
    stamp,
    swap_pointer,
)
from records_service.indexing._whoosh_query import build_filter, build_mask, parse_user_query
from records_service.indexing._whoosh_schema import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    build_schema,
    from_stored,
    to_fields,
)
from records_service.indexing._whoosh_snippets import (
    configure,
    match_offsets,
    query_terms,
    snippet_for,
)
from records_service.indexing.base import (
    IndexBusy,
    IndexClosed,
    IndexDocument,
    IndexStats,
    Progress,
    QuerySyntaxError,
    SearchHit,
    SearchQuery,
    SearchResult,
    Visibility,
    check_batch,
    check_new_document,
    validate_search_query,
)

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 30.0
PROGRESS_EVERY = 500
# Measured on 2 cores (docs/search.md): a larger pool per writer process pays. The
# server rebuilds in one process (forking inside a threaded server is best avoided);
# the reindex command may use several (multisegment, twice as fast on 2 cores).
REBUILD_LIMITMB = 256
# Whoosh reads a compound segment (one .seg file) through a memory map, but wraps each
# part in a BytesIO, which copies it: every search copied the whole postings and stored
# fields, for most of its time and memory (see docs/search.md). Separate files are read
# in place.
COMPOUND_SEGMENTS = False
FACETS = {
    "record_type": sorting.FieldFacet("record_type"),
    "contract": sorting.FieldFacet("contract_ref"),
    "year": sorting.FieldFacet("year"),
}
NEWEST_FIRST = sorting.MultiFacet(
    [
        sorting.FieldFacet("record_date", reverse=True),
        sorting.FieldFacet("captured_at", reverse=True),
    ]
)


@dataclass(frozen=True)
class _Live:
    pointer: Pointer
    ix: Any
    stamp: Stamp | None


def open_whoosh_index(
    path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, older_schemas: bool = False
) -> WhooshSearchIndex:
    """Open the index under ``path``, creating the directory and an empty index if needed.

    Check :attr:`WhooshSearchIndex.needs_rebuild` afterwards: it is true for a
    new index, a damaged one, or one written under another schema version,
    and the caller should then feed every document to ``rebuild``.
    ``older_schemas`` keeps an index of an earlier schema version as it is, for an
    upgrade that searches it only until the other engine's index is built: Whoosh
    keeps each index's analyzers in the index, so its writes and searches stay as
    they were.
    """
    return WhooshSearchIndex(path, lock_timeout=lock_timeout, older_schemas=older_schemas)


class WhooshSearchIndex(GenerationsIndex):
    """A :class:`SearchIndex` stored in a directory, one Whoosh index per generation."""

    _live: _Live

    def __init__(
        self,
        root: Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        older_schemas: bool = False,
    ) -> None:
        self._root = root
        self._older_schemas = older_schemas
        self._lock_timeout = lock_timeout
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        root.mkdir(parents=True, exist_ok=True)
        self._live = self._open_live()

    # -- the live generation ------------------------------------------------

    def _files(self) -> EngineFiles:
        return EngineFiles(
            engine="whoosh",
            schema_version=SCHEMA_VERSION,
            open=lambda pointer, directory, at: _Live(
                pointer, whoosh_index.open_dir(str(directory)), at
            ),
            create=lambda directory: whoosh_index.create_in(str(directory), build_schema()).close(),
            also_accepted=READABLE_VERSIONS if self._older_schemas else frozenset(),
        )

    def _open_live(self) -> _Live:
        live: _Live = open_live(self._root, self._lock_timeout, self._files())
        return live

    def _read_back(self, live: _Live) -> bool:
        return _files_read_back(live.ix)

    def _current(self) -> _Live:
        if self._closed:
            raise IndexClosed("the search index has been closed")
        if stamp(self._root) != self._live.stamp:
            with self._state_lock:
                if stamp(self._root) != self._live.stamp:
                    self._live = self._open_live()
        return self._live

    # -- writes ------------------------------------------------------------------

    def add_or_replace(self, docs: Iterable[IndexDocument]) -> None:
        """:meth:`SearchIndex.add_or_replace`: one commit under Whoosh's write lock."""
        batch = list(docs)
        check_batch(batch)
        if batch:
            self._write(lambda writer: _apply_batch(writer, batch))

    def remove_record(self, record_id: str) -> None:
        """Remove every version of a record (used when it is disposed of)."""
        self._write(lambda writer: writer.delete_by_term("record_id", record_id))

    def _write(self, change: Callable[[Any], object]) -> None:
        with self._write_lock:
            for _ in range(3):
                live = self._current()
                writer = self._open_writer(live.ix)
                try:
                    if stamp(self._root) != live.stamp:
                        # A rebuild elsewhere swapped generations: write to the new one.
                        writer.cancel()
                        continue
                    change(writer)
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit()
                return
        raise IndexBusy("the index was rebuilt repeatedly during a write; try again")

    def _open_writer(self, ix: Any) -> Any:
        try:
            return ix.writer(timeout=self._lock_timeout, compound=COMPOUND_SEGMENTS)
        except LockError:
            raise IndexBusy("another process holds the index write lock") from None

    # -- rebuild -------------------------------------------------------------------

    def rebuild(
        self, docs: Iterable[IndexDocument], progress: Progress | None = None, *, processes: int = 1
    ) -> int:
        """Build a new generation from ``docs``, then swap it in atomically.

        Searches answer from the old generation until the swap. Writes from
        other threads wait for the rebuild and then go to the new generation.
        ``progress`` gets the running count every :data:`PROGRESS_EVERY`
        documents and once at the end. On any error the new generation is
        discarded and the old one stays live. ``docs`` and ``progress`` must
        not write to this index: the write lock is held, and it would deadlock.
        With ``processes`` above 1, Whoosh's multiprocessing writer analyses the
        documents in that many forked processes and keeps one segment from each.
        """
        lock = root_lock(self._root, REBUILD_LOCK)
        with self._write_lock, held_lock(lock, self._lock_timeout, "a rebuild"):
            old = self._current()
            # The live generation's write lock is held from start to swap, so no other
            # process can commit a write that the new generation might miss: its write
            # waits, then gets IndexBusy, and its pending queue retries after the swap.
            writes = old.ix.lock("WRITELOCK")
            with (
                held_lock(writes, self._lock_timeout, "the index write lock"),
                rebuilt_generation(self._root, old.pointer.generation) as (name, path),
            ):
                ix = whoosh_index.create_in(str(path), build_schema())
                count = _fill(ix, docs, progress, processes)
                self._swap(name, ix)
                return count

    def _swap(self, name: str, ix: Any) -> None:
        # Called with the old generation's write lock held (see rebuild).
        pointer = Pointer(name, SCHEMA_VERSION)
        new_stamp = swap_pointer(self._root, pointer, self._lock_timeout)
        with self._state_lock:
            self._live = _Live(pointer, ix, new_stamp)

    # -- reads ---------------------------------------------------------------------

    def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult:
        """Run ``query`` as ``visibility`` sees the index.

        Filters and visibility are Whoosh filter queries, so hidden versions
        are absent from hits, totals, facets and snippets alike. Raises
        :class:`QuerySyntaxError` for a bad query or impossible filters.
        """
        validate_search_query(query)
        live = self._current()
        try:
            return _search(live.ix, query, visibility)
        except QuerySyntaxError:
            raise
        except Exception as exc:  # damage is told apart from other errors by a check
            self._reset_if_damaged(live, exc)
            raise

    def stats(self) -> IndexStats:
        """Describe the live index: document count, schema version, path and rebuild state."""
        live = self._current()
        return self._stats(live.pointer, doc_count=live.ix.doc_count(), engine="whoosh")

    def close(self) -> None:
        """Release the index; later calls raise :class:`IndexClosed`."""
        with self._write_lock:
            self._closed = True
            self._live.ix.close()


def _search(ix: Any, query: SearchQuery, visibility: Visibility) -> SearchResult:
    with ix.searcher() as searcher:
        parsed = parse_user_query(query.text, searcher.schema)
        results = _run(searcher, parsed, query, visibility)
        start = (query.page - 1) * query.page_size
        page = results[start : start + query.page_size]
        terms = query_terms(parsed, searcher, "text")
        offsets = match_offsets(searcher, "text", terms, [hit.docnum for hit in page])
        scored = query.sort == "relevance"
        hits = [_to_hit(hit, offsets[hit.docnum], scored=scored) for hit in page]
        facets = {name: _counts(results.groups(name)) for name in FACETS}
        return SearchResult(hits, len(results), query.page, query.page_size, facets)


def _files_read_back(ix: Any) -> bool:
    """Whether every stored document and term of ``ix`` can be read."""
    try:
        with ix.reader() as reader:
            for _ in reader.all_stored_fields():
                pass
            for _ in reader.all_terms():
                pass
    except Exception:  # whatever reading damaged files raises
        return False
    return True


def _run(searcher: Any, parsed: Any, query: SearchQuery, visibility: Visibility) -> Any:
    try:
        results = searcher.search(
            parsed,
            limit=query.page * query.page_size,
            filter=build_filter(query),
            mask=build_mask(visibility),
            groupedby=FACETS,
            maptype=sorting.Count,
            sortedby=NEWEST_FIRST if query.sort == "date" else None,
        )
    except whoosh_query.QueryError as exc:  # e.g. a phrase on a field without positions
        raise QuerySyntaxError(
            f"the query cannot be run ({exc}); quoted phrases work in "
            "title, text, provider and originator"
        ) from exc
    configure(results)
    return results


def _apply_batch(writer: Any, batch: list[IndexDocument]) -> None:
    demoted = _demoted_versions(writer, batch)
    for doc in [*demoted, *batch]:
        writer.update_document(**to_fields(doc))


def _demoted_versions(writer: Any, batch: list[IndexDocument]) -> list[IndexDocument]:
    """Indexed versions still flagged current whose record gets a new current version."""
    in_batch = {(doc.record_id, doc.version) for doc in batch}
    records = {doc.record_id for doc in batch if doc.is_current}
    demoted = []
    with writer.searcher() as searcher:
        for record_id in records:
            flagged = whoosh_query.And(
                [whoosh_query.Term("record_id", record_id), whoosh_query.Term("is_current", True)]
            )
            for docnum in searcher.docs_for_query(flagged):
                old = from_stored(searcher.stored_fields(docnum))
                if (old.record_id, old.version) not in in_batch:
                    demoted.append(dataclasses.replace(old, is_current=False))
    return demoted


def _fill(
    ix: Any,
    docs: Iterable[IndexDocument],
    progress: Progress | None,
    processes: int = 1,
) -> int:
    spread = {"procs": processes, "multisegment": True} if processes > 1 else {}
    writer = ix.writer(limitmb=REBUILD_LIMITMB, compound=COMPOUND_SEGMENTS, **spread)
    seen: set[tuple[str, int]] = set()
    current: set[str] = set()
    count = 0
    try:
        for count, doc in enumerate(docs, start=1):
            check_new_document(doc, seen, current)
            writer.add_document(**to_fields(doc))
            if progress and count % PROGRESS_EVERY == 0:
                progress(count)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    if progress:
        progress(count)
    return count


def _to_hit(hit: Any, offsets: list[tuple[int, int]], *, scored: bool) -> SearchHit:
    stored = hit.fields()
    return SearchHit(
        record_id=stored["record_id"],
        version=int(stored["version"]),
        is_current=bool(stored["is_current"]),
        title=stored.get("title", ""),
        contract_ref=stored.get("contract_ref"),
        record_type=stored["record_type"],
        record_date=stored["record_date"].date(),
        score=float(hit.score) if scored else 0.0,
        snippet=snippet_for(hit, stored.get("text", ""), offsets),
    )


def _counts(groups: dict[Any, int]) -> dict[str, int]:
    counts = [(str(key), int(n)) for key, n in groups.items() if key not in (None, "")]
    return dict(sorted(counts, key=lambda item: (-item[1], item[0])))
