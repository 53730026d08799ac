"""Typed dependencies for routes: the session, store, services and the calling user.

Routes receive these through ``Annotated`` aliases; none imports settings or a global.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from records_service.auth.failures import FailureReason, count_failure
from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.auth.service import user_for_token
from records_service.auth.sources import client_source
from records_service.bounds import PageNumber
from records_service.db import read_scope, session_scope
from records_service.errors import PermissionDenied, ServiceUnavailable, Unauthenticated
from records_service.indexing import SearchIndex
from records_service.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageParams
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

_bearer = HTTPBearer(auto_error=False, description="An API token from `records-service users add`.")


def _fail(services: Services, request: Request, reason: FailureReason) -> Unauthenticated:
    # Counted, not audited one by one: a flood costs a bounded number of entries.
    count_failure(
        services.engine,
        source=client_source(request.client.host if request.client else None),
        reason=reason,
        interval_seconds=services.settings.auth.failure_interval_seconds,
        clock=services.clock,
    )
    return Unauthenticated(reason.value)


def get_current_user(
    services: ServicesDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user behind the bearer token; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _fail(services, request, FailureReason.MISSING_TOKEN)
    with read_scope(services.engine) as session:
        user = user_for_token(session, credentials.credentials)
    if user is None:
        raise _fail(services, request, FailureReason.BAD_TOKEN)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(permission: Permission) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets the request through only if the user holds ``permission``."""

    async def check(user: CurrentUser) -> User:
        if not allows(user.role_set, permission):
            raise PermissionDenied(f"your roles do not allow {permission.value}")
        return user

    return check


Capturer = Annotated[User, Depends(require(Permission.CAPTURE))]
Editor = Annotated[User, Depends(require(Permission.EDIT_METADATA))]
ContractManager = Annotated[User, Depends(require(Permission.MANAGE_CONTRACTS))]
Administrator = Annotated[User, Depends(require(Permission.MANAGE_USERS))]


async def get_paging(
    page: Annotated[PageNumber, Query(description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    """The page asked for in the query string."""
    return PageParams(page=page, page_size=page_size)


Paging = Annotated[PageParams, Depends(get_paging)]
