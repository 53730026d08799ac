"""Searching as a user: visibility from their roles, refusals as domain errors, and audit.

Routes and pages call :func:`search_records`; it runs the query against the
index as the user may see it, then records the search in the audit log in its
own transaction (the search itself changes nothing, so there is no other
transaction to join). A query the index refuses raises :class:`InvalidQuery`
and is not recorded, since nothing was searched.
"""

from __future__ import annotations

from sqlalchemy import Engine

from records_service.audit.actions import AuditAction, SearchPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.indexing.base import (
    QuerySyntaxError,
    SearchIndex,
    SearchQuery,
    SearchResult,
    Visibility,
)
from records_service.records.service import can_see_sensitive

SEARCH_SUBJECT = "search"


class InvalidQuery(DomainError):
    """The search query is malformed or its filters cannot be run; the detail says why."""

    status = 400
    type_slug = "invalid-query"
    title = "Invalid search query"


def visibility_of(user: User) -> Visibility:
    """What ``user`` may see in search: every sensitive record, or only those they captured."""
    return Visibility(see_sensitive=can_see_sensitive(user), username=user.username)


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


def search_records(
    *, engine: Engine, index: SearchIndex, query: SearchQuery, actor: User, clock: Clock
) -> SearchResult:
    """Run ``query`` as ``actor`` and record who searched for what, and how much was found.

    Raises :class:`InvalidQuery` for malformed query text or impossible filters.
    """
    try:
        result = index.search(query, visibility_of(actor))
    except QuerySyntaxError as exc:
        raise InvalidQuery(str(exc)) from None
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
