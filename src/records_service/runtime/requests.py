"""What a request gets from the running process, for every face (API and web pages).

The services the app's lifespan built, a database session for the request, the blob
store and the search index. How the caller is authenticated is each face's own
business (:mod:`records_service.api.deps` for bearer tokens,
:mod:`records_service.web.deps` for signed-in web sessions).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from records_service.db import read_scope, session_scope
from records_service.errors import ServiceUnavailable
from records_service.indexing import SearchIndex
from records_service.runtime.services import Services
from records_service.storage import BlobStore

# Dependencies that do no I/O are ``async``: FastAPI runs every plain ``def`` one on a
# worker thread, and each of those hops costs a thread switch per request.


async def get_services(request: Request) -> Services:
    """The services built by the app's lifespan."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A session whose transaction commits when the route returns without error."""
    with session_scope(services.engine) as session:
        yield session


# scope="function": the session's exit (the commit) runs when the route function returns,
# before the response is sent. FastAPI's default runs it after the response has gone
# out, so a client could be told of a write that was not yet committed, or that failed.
# Every dependency with ``yield`` must be declared so (tests/api/test_commit_first.py).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(services: ServicesDep) -> Iterator[Session]:
    """A session for routes that only read: on SQLite it never queues for the write lock.

    Only for routes that write nothing, not even an audit entry: the transaction
    ends unwritten.
    """
    with read_scope(services.engine) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_store(services: ServicesDep) -> BlobStore:
    """The blob store."""
    return services.store


StoreDep = Annotated[BlobStore, Depends(get_store)]


async def get_index(services: ServicesDep) -> SearchIndex:
    """The search index."""
    if services.index is None:
        raise ServiceUnavailable("the search index is not open")
    return services.index


IndexDep = Annotated[SearchIndex, Depends(get_index)]
