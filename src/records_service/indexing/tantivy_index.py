"""The tantivy implementation of :class:`SearchIndex`.

One object owns one index directory, laid out as for Whoosh (see
``_generations``): ``index.json`` names the live generation, each
``gen-*`` directory holds one complete tantivy index. Writes are serialised
twice: a ``threading.Lock`` for threads, and a file lock (``writer.lock`` in the
live generation) for processes, which a second process waits for up to
``lock_timeout`` seconds before :class:`IndexBusy`. A tantivy writer lives only
for one write batch, under that lock, and the reader is reloaded first, so no
process ever writes from a stale view of the segments. Searches take no lock;
before each one the reader reloads if the generation's ``meta.json`` changed
(another process committed). Rust panics (``PanicException``, a
``BaseException``) are logged and become :class:`IndexFailure`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import tantivy
from tantivy import Occur, Query

from records_service.cpus import usable_cores
from records_service.indexing import _generations as generations
from records_service.indexing import base
from records_service.indexing._fields import document_key
from records_service.indexing._tantivy_query import build_query, marked_terms, parse_tree
from records_service.indexing._tantivy_schema import (
    ENGINE,
    FACET_FIELDS,
    SCHEMA_VERSION,
    SNIPPET_KINDS,
    build_schema,
    from_stored,
    moment,
    plain_text,
    register_analyzers,
    register_snippet_analyzers,
    to_document,
)
from records_service.indexing._tantivy_snippets import Snippets

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 30.0
PROGRESS_EVERY = 500
# A rebuild switches analyzers once this many documents of the other kind wait (_PlainFirst).
SWITCH_AFTER = 1000
WRITER_LOCK = "writer.lock"  # in each generation: held by the one writer of that index
# tantivy's least memory per writer thread, and enough for a write batch: a writer
# takes much of its budget at once (15 MB: about 23 MiB more RSS while it lives; 32
# MB: about 38), and the worker makes one per batch.
BATCH_HEAP_PER_THREAD = 15_000_000
# A write batch of this many documents or more is tokenised by two writer threads (on
# two cores where the process has them): after a bulk import the background indexing
# step writes such batches one after another. A smaller batch keeps to one thread, since
# each thread leaves a segment of its own for the merges to combine.
SPREAD_BATCH = 20
REBUILD_HEAP_PER_THREAD = 128_000_000
MAX_FACET_VALUES = 100_000
TOTAL = "total"  # the aggregation that counts the matches (not a facet's name)
T = TypeVar("T")


def open_tantivy_index(
    path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> TantivySearchIndex:
    """Open the tantivy index under ``path``, creating the directory and an empty index if needed.

    Check :attr:`TantivySearchIndex.needs_rebuild` afterwards: it is true for a
    new index, a damaged one, one written under another schema version or by
    another engine, and the caller should then feed every document to ``rebuild``.
    """
    return TantivySearchIndex(path, lock_timeout=lock_timeout)


@contextlib.contextmanager
def contained(what: str) -> Iterator[None]:
    """Turn a Rust panic inside ``what`` into :class:`base.IndexFailure`, and log it.

    pyo3 raises panics as ``PanicException``, a ``BaseException``, which would
    otherwise pass every ``except Exception`` and end the request's thread or
    the worker. The engine's state is not trusted after one, so callers reopen.
    """
    try:
        yield
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        log.error("the search engine panicked during %s: %s", what, exc)
        raise base.IndexFailure(f"the search index failed during {what}; try again") from None


@dataclass
class _Live:
    pointer: generations.Pointer
    index: tantivy.Index
    stamp: generations.Stamp | None
    directory: Path
    meta: tuple[int, int, int] | None = field(default=None)
    # The same generation opened again for each snippet analyzer: see _snippet_searchers.
    snippet_indexes: dict[str, tantivy.Index] = field(default_factory=dict)
    snippet_meta: tuple[int, int, int] | None = field(default=None)


class TantivySearchIndex(generations.GenerationsIndex):
    """A :class:`SearchIndex` stored in a directory, one tantivy index per generation."""

    _live: _Live

    def __init__(self, root: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self._root = root
        self._lock_timeout = lock_timeout
        self._schema = build_schema()
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        self._damaged = False
        root.mkdir(parents=True, exist_ok=True)
        with contained("opening the index"):
            self._live = self._open_live()

    # -- the live generation ------------------------------------------------

    def _files(self) -> generations.EngineFiles:
        return generations.EngineFiles(
            engine=ENGINE,
            schema_version=SCHEMA_VERSION,
            open=lambda pointer, directory, at: _Live(
                pointer, _open(directory), at, directory, _meta(directory)
            ),
            create=self._create_empty,
        )

    def _open_live(self) -> _Live:
        live: _Live = generations.open_live(self._root, self._lock_timeout, self._files())
        return live

    def _read_back(self, live: _Live) -> bool:
        return _files_read_back(live.index)

    def _start_afresh(self, reason: str) -> Any:
        with contained("starting a new index"):
            return super()._start_afresh(reason)

    def _create_empty(self, directory: Path) -> None:
        _create(directory, self._schema)

    def _current(self) -> _Live:
        if self._closed:
            raise base.IndexClosed("the search index has been closed")
        if self._damaged or generations.stamp(self._root) != self._live.stamp:
            with self._state_lock:
                if self._damaged or generations.stamp(self._root) != self._live.stamp:
                    self._live = self._open_live()
                    self._damaged = False
        return self._live

    def _fresh(self) -> _Live:
        """The live generation, its reader reloaded if anyone committed since."""
        live = self._current()
        meta = _meta(live.directory)
        if meta != live.meta:
            live.index.reload()
            live.meta = meta
        return live

    def _guarded(self, what: str, action: Callable[[], T]) -> T:
        try:
            with contained(what):
                return action()
        except base.IndexFailure:
            self._damaged = True  # reopen from disk before the next operation
            raise

    # -- writes ------------------------------------------------------------------

    def add_or_replace(self, docs: Iterable[base.IndexDocument]) -> None:
        """:meth:`SearchIndex.add_or_replace`: one commit by this generation's writer."""
        batch = list(docs)
        base.check_batch(batch)
        if batch:
            threads = 2 if len(batch) >= SPREAD_BATCH and usable_cores() > 1 else 1
            self._write(
                "a write", lambda live, writer: self._apply(live, writer, batch), threads=threads
            )

    def remove_record(self, record_id: str) -> None:
        """Remove every version of a record (used when it is disposed of)."""
        self._write(
            "a removal", lambda _, writer: writer.delete_documents_by_term("record_id", record_id)
        )

    def _write(
        self,
        what: str,
        change: Callable[[_Live, tantivy.IndexWriter], object],
        *,
        threads: int = 1,
    ) -> None:
        with self._write_lock:
            self._guarded(what, lambda: self._write_once(change, threads))

    def _write_once(
        self, change: Callable[[_Live, tantivy.IndexWriter], object], threads: int
    ) -> None:
        for _ in range(3):
            live = self._current()
            lock = generations.root_lock(live.directory, WRITER_LOCK)
            with generations.held_lock(lock, self._lock_timeout, "the index write lock"):
                if generations.stamp(self._root) != live.stamp:
                    continue  # a rebuild elsewhere swapped generations: write to the new one
                live = self._fresh()  # reopen: see every commit before this batch
                with _writer(live.index, BATCH_HEAP_PER_THREAD * threads, threads) as writer:
                    change(live, writer)
                    writer.commit()
                live.index.reload()
                live.meta = _meta(live.directory)
                return
        raise base.IndexFailure("the index was rebuilt repeatedly during a write; try again")

    def _apply(
        self, live: _Live, writer: tantivy.IndexWriter, batch: list[base.IndexDocument]
    ) -> None:
        for doc in [*_demoted_versions(live, self._schema, batch), *batch]:
            writer.delete_documents_by_term("key", document_key(doc.record_id, doc.version))
            writer.add_document(to_document(doc, self._schema))

    # -- rebuild -------------------------------------------------------------------

    def rebuild(
        self,
        docs: Iterable[base.IndexDocument],
        progress: base.Progress | None = None,
        *,
        processes: int = 1,
    ) -> int:
        """Build a new generation from ``docs``, then swap it in atomically.

        Searches answer from the old generation until the swap. Writes from
        other threads and processes wait for the rebuild (the old generation's
        write lock is held from start to swap) and then go to the new one.
        ``progress`` gets the running count every :data:`PROGRESS_EVERY`
        documents and once at the end. On any error the new generation is
        discarded and the old one stays live. ``processes`` sets tantivy's
        indexing threads.
        """
        lock = generations.root_lock(self._root, generations.REBUILD_LOCK)
        with self._write_lock, generations.held_lock(lock, self._lock_timeout, "a rebuild"):
            old = self._guarded("opening the index", self._current)
            writes = generations.root_lock(old.directory, WRITER_LOCK)
            with (
                generations.held_lock(writes, self._lock_timeout, "the index write lock"),
                generations.rebuilt_generation(self._root, old.pointer.generation) as (
                    _,
                    directory,
                ),
            ):
                return self._guarded(
                    "a rebuild", lambda: self._fill(directory, docs, progress, processes)
                )

    def _fill(
        self,
        directory: Path,
        docs: Iterable[base.IndexDocument],
        progress: base.Progress | None,
        processes: int,
    ) -> int:
        index = _create(directory, self._schema)
        threads = max(1, processes)
        seen: set[tuple[str, int]] = set()
        current: set[str] = set()
        count = 0
        with _writer(index, REBUILD_HEAP_PER_THREAD * threads, threads) as writer:
            feed = _PlainFirst(index, writer)
            for count, doc in enumerate(docs, start=1):
                base.check_new_document(doc, seen, current)
                feed.add(doc, to_document(doc, self._schema))
                if progress and count % PROGRESS_EVERY == 0:
                    progress(count)
            feed.finish()
            writer.commit()
        register_analyzers(index)  # later writes through this object analyse any text
        if progress:
            progress(count)
        index.reload()
        self._swap(directory, index)
        return count

    def _swap(self, directory: Path, index: tantivy.Index) -> None:
        # Called with the old generation's write lock held (see rebuild).
        pointer = generations.Pointer(directory.name, SCHEMA_VERSION, engine=ENGINE)
        new_stamp = generations.swap_pointer(self._root, pointer, self._lock_timeout)
        with self._state_lock:
            self._live = _Live(pointer, index, new_stamp, directory, _meta(directory))

    # -- reads ---------------------------------------------------------------------

    def search(self, query: base.SearchQuery, visibility: base.Visibility) -> base.SearchResult:
        """Run ``query`` as ``visibility`` sees the index.

        Filters and the visibility mask are clauses of the one query tantivy
        runs, so hidden versions are absent from hits, totals, facets and
        snippets alike. Raises :class:`base.QuerySyntaxError` for a bad query or
        impossible filters.
        """
        base.validate_search_query(query)
        tree = parse_tree(query.text)
        live = self._guarded("a search", self._fresh)
        try:
            return self._guarded("a search", lambda: self._search(live, tree, query, visibility))
        except (base.QuerySyntaxError, base.IndexFailure):
            raise
        except Exception as exc:  # damage is told apart from other errors by a check
            self._reset_if_damaged(live, exc)
            raise

    def _search(
        self, live: _Live, tree: Any, query: base.SearchQuery, visibility: base.Visibility
    ) -> base.SearchResult:
        searcher = live.index.searcher()
        full = build_query(tree, query, visibility, self._schema)
        counting = _beside(lambda: _total_and_facets(searcher, full))
        page = _collect(searcher, full, query)
        snippets = Snippets(
            _snippet_searchers(live) if page.hits else {},
            self._schema,
            marked_terms(tree, "text", searcher),
            marked_terms(tree, "title", searcher),
        )
        scored = query.sort == "relevance"
        hits = [
            _to_hit(searcher.doc(address), score, snippets, scored=scored)
            for score, address in page.hits
        ]
        total, facets = counting.result()
        return base.SearchResult(hits, total, query.page, query.page_size, facets)

    def stats(self) -> base.IndexStats:
        """Describe the live index: document count, schema version, path and rebuild state."""
        live = self._guarded("reading statistics", self._fresh)
        doc_count = int(live.index.searcher().num_docs)
        return self._stats(live.pointer, doc_count=doc_count, engine="tantivy")

    def close(self) -> None:
        """Release the index; later calls raise :class:`base.IndexClosed`."""
        with self._write_lock:
            self._closed = True


def _files_read_back(index: tantivy.Index) -> bool:
    """Whether every stored document of ``index`` can be read."""
    try:
        with contained("checking the index files"):
            index.reload()
            searcher = index.searcher()
            count = int(searcher.num_docs)
            if count:
                found = searcher.search(tantivy.Query.all_query(), limit=count)
                for _, address in found.hits:
                    searcher.doc(address)
    except Exception:  # whatever reading damaged files raises (a panic is an base.IndexFailure)
        return False
    return True


class _PlainFirst:
    """Feeds a rebuild's writer so that plain text is read by the faster analyzer.

    Documents whose prose is all :func:`plain_text` get the same terms and positions
    from :func:`plain_prose_analyzer` as from the word pattern, about five times
    faster. A writer's segments take the analyzers registered when they start, so
    the writer works in one mode at a time: documents of the other kind wait, and
    when :data:`SWITCH_AFTER` are waiting the batch is committed, the analyzers are
    switched, and those documents go in. The new generation is not live until the
    swap, so these commits are seen by no search.
    """

    def __init__(self, index: tantivy.Index, writer: tantivy.IndexWriter) -> None:
        self._index, self._writer = index, writer
        self._plain = True
        register_analyzers(index, plain=True)
        self._waiting: list[tantivy.Document] = []

    def add(self, doc: base.IndexDocument, fields: tantivy.Document) -> None:
        """Index ``fields`` now if ``doc`` is of the current mode's kind, else later."""
        if _is_plain(doc) == self._plain:
            self._writer.add_document(fields)
            return
        self._waiting.append(fields)
        if len(self._waiting) >= SWITCH_AFTER:
            self._switch()

    def finish(self) -> None:
        """Index whatever is still waiting."""
        if self._waiting:
            self._switch()

    def _switch(self) -> None:
        self._writer.commit()
        self._plain = not self._plain
        register_analyzers(self._index, plain=self._plain)
        for fields in self._waiting:
            self._writer.add_document(fields)
        self._waiting.clear()


def _is_plain(doc: base.IndexDocument) -> bool:
    return all(
        plain_text(value or "") for value in (doc.title, doc.text, doc.provider, doc.originator)
    )


def _open(directory: Path) -> tantivy.Index:
    index = tantivy.Index.open(str(directory))
    register_analyzers(index)
    index.config_reader("Manual")  # reloaded when meta.json changes, not by a watcher thread
    return index


def _create(directory: Path, schema: tantivy.Schema) -> tantivy.Index:
    index = tantivy.Index(schema, path=str(directory), reuse=False)
    register_analyzers(index)
    index.config_reader("Manual")
    return index


_snippet_lock = threading.Lock()


def _snippet_searchers(live: _Live) -> dict[str, tantivy.Searcher]:
    """Searchers of the live generation whose prose analyzers are the faster snippet ones.

    tantivy's snippet generator re-analyses each hit's text with the analyzer
    registered on the searcher's index object, so snippets use other objects of
    the same files (read only), reloaded whenever the first one is.
    """
    with _snippet_lock:
        if not live.snippet_indexes:
            for kind in SNIPPET_KINDS:
                snippet_index = tantivy.Index.open(str(live.directory))
                register_snippet_analyzers(snippet_index, kind)
                snippet_index.config_reader("Manual")
                live.snippet_indexes[kind] = snippet_index
            live.snippet_meta = live.meta
        if live.snippet_meta != live.meta:
            for snippet_index in live.snippet_indexes.values():
                snippet_index.reload()
            live.snippet_meta = live.meta
        return {kind: index.searcher() for kind, index in live.snippet_indexes.items()}


def _meta(directory: Path) -> tuple[int, int, int] | None:
    """A fingerprint of the generation's ``meta.json``: tantivy replaces it at each commit."""
    try:
        info = (directory / "meta.json").stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


@contextlib.contextmanager
def _writer(index: tantivy.Index, heap: int, threads: int) -> Iterator[tantivy.IndexWriter]:
    """A tantivy writer for one batch; whatever happens, it is gone (and its lock freed) after."""
    writer = index.writer(heap_size=heap, num_threads=threads)
    try:
        yield writer
    except BaseException:
        with contextlib.suppress(Exception):
            writer.rollback()
        raise
    finally:
        writer.wait_merging_threads()


def _collect(searcher: tantivy.Searcher, query: Query, search: base.SearchQuery) -> Any:
    """One page of hits, ranked or newest first.

    Not counted here: counting makes tantivy score every match, where the top hits
    alone let it skip blocks that cannot reach the page; the aggregation that
    counts the facets counts the total too (:func:`_total_and_facets`).
    """
    offset = (search.page - 1) * search.page_size
    if search.sort == "date":
        return searcher.search(
            query, search.page_size, count=False, order_by_field="date_order", offset=offset
        )
    return searcher.search(query, search.page_size, count=False, offset=offset)


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()
BESIDE_THREADS = 4  # searches of one server process counting at once


def _beside(work: Callable[[], T]) -> Future[T]:
    """Start ``work`` on another thread of this process. tantivy releases the GIL
    while it searches, so a search's count and facets (one pass over every match)
    run on the second core while its thread ranks the page and makes the snippets.

    One pool per process, made on first use (so a forked server process makes its own).
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(BESIDE_THREADS, "tantivy-count"))
        pool = _pool[1]
    return pool.submit(work)


def _total_and_facets(
    searcher: tantivy.Searcher, query: Query
) -> tuple[int, dict[str, dict[str, int]]]:
    """How many documents match, and the counts of each facet over them, from one
    pass of tantivy aggregations over fast fields (every document has one year)."""
    request: dict[str, Any] = {
        name: {"terms": {"field": source, "size": MAX_FACET_VALUES}}
        for name, source in FACET_FIELDS.items()
    }
    request[TOTAL] = {"value_count": {"field": "year"}}
    answer = searcher.aggregate(query, request)
    facets = {}
    for name in FACET_FIELDS:
        buckets = answer.get(name, {}).get("buckets", [])
        counts = [(str(b["key"]), int(b["doc_count"])) for b in buckets if b["key"] not in ("",)]
        facets[name] = dict(sorted(counts, key=lambda item: (-item[1], item[0])))
    return int(answer[TOTAL]["value"] or 0), facets


def _to_hit(
    doc: tantivy.Document, score: Any, snippets: Snippets, *, scored: bool
) -> base.SearchHit:
    stored = doc.to_dict()
    text = (stored.get("text") or [""])[0]
    title = (stored.get("title") or [""])[0]
    return base.SearchHit(
        record_id=stored["record_id"][0],
        version=int(stored["version"][0]),
        is_current=bool(stored["is_current"][0]),
        title=title,
        contract_ref=(stored.get("contract_ref") or [None])[0],
        record_type=stored["record_type"][0],
        record_date=moment(int(stored["record_date"][0])).date(),
        score=float(score) if scored else 0.0,
        snippet=snippets.for_document(doc, text, title),
    )


def _demoted_versions(
    live: _Live, schema: tantivy.Schema, batch: list[base.IndexDocument]
) -> list[base.IndexDocument]:
    """Indexed versions still flagged current whose record gets a new current version."""
    in_batch = {(doc.record_id, doc.version) for doc in batch}
    searcher = live.index.searcher()
    demoted = []
    for record_id in sorted({doc.record_id for doc in batch if doc.is_current}):
        flagged = Query.boolean_query(
            [
                (Occur.Must, Query.term_query(schema, "record_id", record_id)),
                (Occur.Must, Query.term_query(schema, "is_current", True)),
            ]
        )
        for _, address in searcher.search(flagged, 1000, count=False).hits:
            old = from_stored(searcher.doc(address).to_dict())
            if (old.record_id, old.version) not in in_batch:
                demoted.append(replace(old, is_current=False))
    return demoted
