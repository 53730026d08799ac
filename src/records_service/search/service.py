"""Searching as a user: visibility from their roles, refusals as domain errors, and audit.

Routes and pages call :func:`search_records`; it runs the query against the
index as the user may see it, then records the search in the audit log in its
own transaction (the search itself changes nothing, so there is no other
transaction to join). A query the index refuses raises :class:`InvalidQuery`
and is not recorded, since nothing was searched.

The index is updated by a background worker, so it can lag behind the
database: a record just reclassified OFFICIAL-SENSITIVE may still be indexed
as OFFICIAL. The database decides. Every change that could make the index
stale queues an index task in its own transaction, and the task is deleted only
after the index holds the change, so before searching we mask every record with
a queued task that the database hides from the user; hits, totals, facets and
snippets then all leave it out. The page of hits is then checked against the
database's rule as well, in case the index is stale some other way (a rebuild
swapped in from an older snapshot); a hidden hit found there is masked and the
search run again, so totals and facets stay consistent with the hits.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, not_
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, SearchPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.db import read_scope, session_scope
from records_service.errors import DomainError, ServiceUnavailable
from records_service.indexing.base import (
    IndexDamaged,
    QuerySyntaxError,
    SearchIndex,
    SearchQuery,
    SearchResult,
    Visibility,
)
from records_service.records.models import IndexTask, Record
from records_service.records.service import can_see_sensitive, hidden_among, visible_clause
from records_service.search.documents import count_searchable_versions

SEARCH_SUBJECT = "search"
# Searches run again with newly found hidden hits masked; more passes than this means
# records keep being reclassified under the search.
SEARCH_PASSES = 3


class InvalidQuery(DomainError):
    """The search query is malformed or its filters cannot be run; the detail says why."""

    status = 400
    type_slug = "invalid-query"
    title = "Invalid search query"


def visibility_of(user: User, hidden_ids: Collection[str] = ()) -> Visibility:
    """What ``user`` may see in search: every sensitive record, or only those they captured;
    never the records named in ``hidden_ids``."""
    return Visibility(
        see_sensitive=can_see_sensitive(user),
        username=user.username,
        hidden_ids=frozenset(hidden_ids),
    )


def stale_hidden_ids(session: Session, user: User) -> set[str]:
    """Records with queued index work that ``user`` may not see (the index may not know yet)."""
    statement = (
        select(IndexTask.record_id)
        .join(Record, col(Record.id) == col(IndexTask.record_id))
        .where(not_(visible_clause(user)))
        .distinct()
    )
    return set(session.exec(statement))


def visible_search(
    engine: Engine, index: SearchIndex, query: SearchQuery, user: User
) -> SearchResult:
    """Run ``query`` as ``user``, with the database's visibility rule as the last word.

    Raises :class:`QuerySyntaxError` for a bad query, and :class:`ServiceUnavailable`
    in the unlikely case that hidden records keep turning up while records are
    being reclassified.
    """
    if can_see_sensitive(user):
        return index.search(query, visibility_of(user))
    with read_scope(engine) as session:
        hidden = stale_hidden_ids(session, user)
    for _ in range(SEARCH_PASSES):
        result = index.search(query, visibility_of(user, hidden))
        with read_scope(engine) as session:
            leaked = hidden_among(session, user, {hit.record_id for hit in result.hits})
        if not leaked:
            return result
        hidden |= leaked
    raise ServiceUnavailable("records are being reclassified; search again in a moment")


def audited_filters(query: SearchQuery) -> dict[str, object]:
    """The structured part of ``query`` as it is written to the audit log."""
    filters: dict[str, object] = {
        "contract": query.contract_ref,
        "record_type": list(query.record_types) or None,
        "tag": list(query.tags) or None,
        "date_from": query.date_from.isoformat() if query.date_from else None,
        "date_to": query.date_to.isoformat() if query.date_to else None,
        "classification": query.classification,
    }
    kept = {name: value for name, value in filters.items() if value is not None}
    kept.update(
        all_versions=query.all_versions,
        sort=query.sort,
        page=query.page,
        page_size=query.page_size,
    )
    return kept


class IndexRebuilding(ServiceUnavailable):
    """The index was created empty (lost, reset or new) and is being rebuilt."""

    type_slug = "index-rebuilding"
    retry_after = 30


def _refuse_while_rebuilding(engine: Engine, index: SearchIndex) -> None:
    """Answer 503 rather than incomplete results while an empty index is rebuilt.

    Not on a new service with nothing to find, and not while another engine's
    complete index answers (an upgrade, see ``indexing/upgrade.py``).
    """
    if not index.needs_rebuild:
        return
    stats = index.stats()
    if stats.answering_from is not None or count_searchable_versions(engine) == 0:
        return
    raise IndexRebuilding(
        f"the search index is being rebuilt from the database ({stats.rebuild_reason}); "
        "try again in a minute"
    )


def search_records(
    *, engine: Engine, index: SearchIndex, query: SearchQuery, actor: User, clock: Clock
) -> SearchResult:
    """Run ``query`` as ``actor`` and record who searched for what, and how much was found.

    Raises :class:`InvalidQuery` for malformed query text or impossible filters.
    """
    _refuse_while_rebuilding(engine, index)
    try:
        result = visible_search(engine, index, query, actor)
    except QuerySyntaxError as exc:
        raise InvalidQuery(str(exc)) from None
    except IndexDamaged as exc:  # the engine has started a new index; the feed rebuilds it
        raise IndexRebuilding(
            f"the search index files are damaged ({exc.cause}); the index is being rebuilt "
            "from the database; try again in a minute"
        ) from None
    with session_scope(engine) as session:
        record_event(
            session,
            actor=actor.username,
            action=AuditAction.SEARCH_QUERY,
            subject=SEARCH_SUBJECT,
            payload=SearchPayload(
                query=query.text, filters=audited_filters(query), total=result.total
            ),
            clock=clock,
        )
    return result
