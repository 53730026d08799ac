"""Dependencies only the API has: the bearer-token caller, its role checks and paging.

What every face shares (the services, the request's session, the store and the
index) is in :mod:`records_service.runtime.requests`. The role aliases here all
authenticate by bearer token, hence their ``Token`` prefix; the web pages have their
own, by signed-in session (:mod:`records_service.web.deps`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from records_service.auth.failures import FailureReason, count_failure
from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.auth.service import user_for_token
from records_service.auth.sources import client_source
from records_service.bounds import PageNumber
from records_service.db import read_scope
from records_service.errors import PermissionDenied, Unauthenticated
from records_service.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageParams
from records_service.runtime.requests import ServicesDep
from records_service.runtime.services import Services

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


TokenUser = Annotated[User, Depends(get_current_user)]


def require(permission: Permission) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets the request through only if the user holds ``permission``."""

    async def check(user: TokenUser) -> User:
        if not allows(user.role_set, permission):
            raise PermissionDenied(f"your roles do not allow {permission.value}")
        return user

    return check


TokenCapturer = Annotated[User, Depends(require(Permission.CAPTURE))]
TokenEditor = Annotated[User, Depends(require(Permission.EDIT_METADATA))]
TokenContractManager = Annotated[User, Depends(require(Permission.MANAGE_CONTRACTS))]
TokenAdministrator = Annotated[User, Depends(require(Permission.MANAGE_USERS))]
TokenAuditReader = Annotated[User, Depends(require(Permission.READ_AUDIT))]
TokenRetentionManager = Annotated[User, Depends(require(Permission.MANAGE_RETENTION))]


async def get_paging(
    page: Annotated[PageNumber, Query(description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    """The page asked for in the query string."""
    return PageParams(page=page, page_size=page_size)


Paging = Annotated[PageParams, Depends(get_paging)]
