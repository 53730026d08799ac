"""The search-index contract: value types, errors and the ``SearchIndex`` protocol.

This module owns what callers may rely on whatever engine sits behind the
index: the document shape (one document per record *version*), the query
and result shapes, who may see what (:class:`Visibility`), and the checks on a
:class:`SearchQuery` that do not depend on the engine. It knows nothing about
Whoosh. The database stays the source of truth: an index is derived from it,
and callers feed it documents (and rebuild it) from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

from records_service.errors import ServiceUnavailable

OFFICIAL = "OFFICIAL"
OFFICIAL_SENSITIVE = "OFFICIAL-SENSITIVE"
CLASSIFICATIONS = (OFFICIAL, OFFICIAL_SENSITIVE)
MAX_PAGE_SIZE = 200
MAX_QUERY_LENGTH = 2000

SortOrder = Literal["relevance", "date"]
# Told the running count of documents indexed, now and then during a rebuild.
Progress = Callable[[int], None]


class QuerySyntaxError(ValueError):
    """A search request the index cannot run; the message says what to fix.

    Raised for malformed query text and for impossible structured filters
    (for example ``date_from`` after ``date_to``). Callers answer it with a
    400 and show the message to the person who typed the query.
    """


class IndexBusy(RuntimeError):
    """Another writer (thread, or process) held the index for too long."""


class IndexClosed(RuntimeError):
    """The index object was used after :meth:`SearchIndex.close`."""


class IndexFailure(IndexBusy, ServiceUnavailable):
    """The engine failed inside (for example a Rust panic); the operation was abandoned.

    Nothing was committed and the process carries on. It is an
    :class:`IndexBusy`, so a writer's pending queue keeps the work and retries,
    and a ``ServiceUnavailable``, so a request gets a 503 problem answer.
    """

    def __init__(self, detail: str) -> None:
        ServiceUnavailable.__init__(self, detail)


class IndexDamaged(ServiceUnavailable):
    """Reading the index failed and a check of its files confirmed they are damaged.

    The engine has already put a new empty generation in place, flagged
    ``needs_rebuild`` with ``cause``, so the index feed rebuilds it from the
    database as it does for a missing index. Raised only after the check: an
    error in an index whose files all read back is not damage, and is re-raised
    as it was.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(f"the search index files are damaged ({cause})")
        self.cause = cause


def damage_of(exc: BaseException) -> str:
    """How an error that revealed damage reads in a rebuild reason."""
    return f"{type(exc).__module__}.{type(exc).__name__}: {exc}".removeprefix("builtins.")


@dataclass(frozen=True)
class IndexDocument:
    """Everything the index holds about one version of one record.

    ``(record_id, version)`` is the key. ``is_current`` marks the record's
    current version; the index keeps at most one current version per record.
    ``captured_by`` is the capturer's username, used for visibility.
    """

    record_id: str
    version: int
    is_current: bool
    title: str
    text: str
    record_type: str
    contract_ref: str | None
    provider: str | None
    tags: tuple[str, ...]
    record_date: date
    captured_at: datetime
    classification: str
    originator: str | None
    captured_by: str

    def __post_init__(self) -> None:
        if not self.record_id.strip():
            raise ValueError("record_id must not be empty")
        if self.version < 1:
            raise ValueError(f"version must be >= 1, got {self.version}")
        if self.classification not in CLASSIFICATIONS:
            raise ValueError(f"unknown classification {self.classification!r}")
        if not self.record_type.strip():
            raise ValueError("record_type must not be empty")
        if any("," in tag for tag in self.tags):
            raise ValueError("a tag must not contain a comma")


@dataclass(frozen=True)
class Visibility:
    """Who is asking. Documents they may not see never appear anywhere in a result.

    ``see_sensitive`` is true for the reviewer, records_manager, auditor and
    admin roles. Anyone else still sees the OFFICIAL-SENSITIVE versions they
    captured themselves (matched on ``username``). ``hidden_ids`` names records
    that must never appear whatever the index holds about them: the database
    says they are hidden from this user, and the index may not know yet.
    """

    see_sensitive: bool
    username: str
    hidden_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SearchQuery:
    """A query string plus structured filters, sorting and a page.

    ``text`` uses the engine's query syntax (``AND``/``OR``/``NOT``,
    ``"phrases"``, ``wild*``, ``field:value``); an empty string matches every
    document. ``tags`` requires every listed tag; ``record_types`` allows any
    of the listed types. Dates are inclusive. ``sort="date"`` orders by
    ``record_date``, newest first. Pages count from 1.
    """

    text: str = ""
    contract_ref: str | None = None
    record_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    classification: str | None = None
    all_versions: bool = False
    sort: SortOrder = "relevance"
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class SearchHit:
    """One matching version. ``snippet`` is HTML: matches in ``<mark>``, the rest escaped.

    ``score`` is the relevance score; it is 0.0 when results are sorted by date.
    """

    record_id: str
    version: int
    is_current: bool
    title: str
    contract_ref: str | None
    record_type: str
    record_date: date
    score: float
    snippet: str


@dataclass(frozen=True)
class SearchResult:
    """One page of hits, the total over all pages, and facet counts.

    ``facets`` maps ``"record_type"``, ``"contract"`` and ``"year"`` to
    ``{value: count}`` over the whole filtered result, not just this page.
    Versions without a contract are not counted under ``"contract"``.
    """

    hits: list[SearchHit]
    total: int
    page: int
    page_size: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexStats:
    """What an index can say about itself, for health and status pages.

    ``needs_rebuild`` is true when the index was created empty or from an
    older schema and no complete :meth:`SearchIndex.rebuild` has run since;
    ``rebuild_reason`` says why. ``rebuilding`` is true while a rebuild runs, in
    this process or another one. ``engine`` names the engine; ``answering_from``
    names another engine whose index answers searches until this one is complete
    (during an upgrade, see :mod:`records_service.indexing.upgrade`), else None.
    """

    doc_count: int
    schema_version: int
    path: str
    needs_rebuild: bool = False
    rebuild_reason: str | None = None
    rebuilding: bool = False
    engine: str = ""
    answering_from: str | None = None


@runtime_checkable
class SearchIndex(Protocol):
    """A full-text index of record versions, owned by a single writer."""

    @property
    def needs_rebuild(self) -> bool:
        """True until a complete rebuild has run on an index that was created or reset."""
        ...

    def add_or_replace(self, docs: Iterable[IndexDocument]) -> None:
        """Add each document, replacing any stored under the same (record_id, version).

        When a document is current, any other version of its record still
        flagged current is demoted, so a record has one current version.
        The whole batch becomes visible to searches at once, or not at all.
        Raises ``ValueError`` if the batch repeats a key or has two current
        versions of one record, and :class:`IndexBusy` if another process
        holds the write lock for longer than ``lock_timeout``.
        """
        ...

    def remove_record(self, record_id: str) -> None:
        """Remove every version of a record (used when it is disposed of)."""
        ...

    def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult:
        """Run ``query`` as ``visibility`` sees the index.

        Raises :class:`QuerySyntaxError`, and no other exception, for a bad
        query or impossible filters.
        """
        ...

    def rebuild(
        self, docs: Iterable[IndexDocument], progress: Progress | None = None, *, processes: int = 1
    ) -> int:
        """Replace the whole index with ``docs`` and return how many were indexed.

        Searches keep answering from the old index until the new one is
        complete; the switch is atomic. ``progress`` is called with the
        running count now and then, and once at the end. ``processes`` above 1
        lets the engine index in that many worker processes (only from a caller
        that runs no other threads, such as the ``reindex`` command).
        """
        ...

    def stats(self) -> IndexStats:
        """Describe the live index."""
        ...

    def close(self) -> None:
        """Release the index; later calls raise :class:`IndexClosed`."""
        ...


def validate_search_query(query: SearchQuery) -> None:
    """Raise :class:`QuerySyntaxError` if the structured parts of ``query`` cannot be run."""
    if query.page < 1:
        raise QuerySyntaxError(f"page must be 1 or more, got {query.page}")
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise QuerySyntaxError(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {query.page_size}"
        )
    if len(query.text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise QuerySyntaxError(
            f"date_from ({query.date_from.isoformat()}) is after "
            f"date_to ({query.date_to.isoformat()})"
        )
    if query.classification is not None and query.classification not in CLASSIFICATIONS:
        raise QuerySyntaxError(
            f"unknown classification {query.classification!r}; "
            f"use one of {', '.join(CLASSIFICATIONS)}"
        )
    if query.sort not in ("relevance", "date"):
        raise QuerySyntaxError(f"unknown sort {query.sort!r}; use 'relevance' or 'date'")
    if any(not t.strip() or "," in t for t in query.tags):
        raise QuerySyntaxError("each tag filter must be non-empty and contain no comma")


def check_batch(batch: list[IndexDocument]) -> None:
    """Raise ``ValueError`` if ``batch`` repeats a key or holds two current versions
    of one record (every engine refuses such a batch before writing any of it)."""
    seen: set[tuple[str, int]] = set()
    current: set[str] = set()
    for doc in batch:
        check_new_document(doc, seen, current)


def check_new_document(doc: IndexDocument, seen: set[tuple[str, int]], current: set[str]) -> None:
    """Raise ``ValueError`` if ``doc`` repeats a key in ``seen``, or is a second current
    version of a record in ``current``; then add it to both."""
    key = (doc.record_id, doc.version)
    if key in seen:
        raise ValueError(f"version {doc.version} of record {doc.record_id} appears twice")
    seen.add(key)
    if doc.is_current:
        if doc.record_id in current:
            raise ValueError(f"record {doc.record_id} has two current versions")
        current.add(doc.record_id)
