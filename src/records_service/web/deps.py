"""Typed dependencies for web pages: the signed-in user and role checks.

Pages authenticate by the web session a sign-in opened, hence the ``SignedIn`` prefix
of every alias here (the API's, by bearer token, are ``Token...`` in
:mod:`records_service.api.deps`). Pages check roles with the same table as the API
(:func:`records_service.auth.roles.allows`). An anonymous visitor is sent to the
login page; a signed-in user without the permission gets a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.errors import PermissionDenied
from records_service.runtime.requests import ServicesDep
from records_service.web.sessions import signed_in_user


class LoginRequired(Exception):
    """The page needs a signed-in user; carries where to return after login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _return_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def client_host(request: Request) -> str | None:
    """The address the request came from (the throttles' and the audit log's source)."""
    return request.client.host if request.client else None


def page_user(request: Request, services: ServicesDep) -> User:
    """The signed-in user; otherwise a redirect to the login page."""
    user = signed_in_user(request, services, now=services.clock().timestamp())
    if user is None:
        raise LoginRequired(_return_path(request) if request.method == "GET" else "/")
    return user


SignedInUser = Annotated[User, Depends(page_user)]


def require_page(permission: Permission) -> Callable[[User], User]:
    """A dependency that lets a page through only if the user holds ``permission``."""

    def check(user: SignedInUser) -> User:
        if not allows(user.role_set, permission):
            raise PermissionDenied(f"your roles do not allow {permission.value}")
        return user

    return check


SignedInCapturer = Annotated[User, Depends(require_page(Permission.CAPTURE))]
SignedInEditor = Annotated[User, Depends(require_page(Permission.EDIT_METADATA))]
SignedInContractManager = Annotated[User, Depends(require_page(Permission.MANAGE_CONTRACTS))]
SignedInAdministrator = Annotated[User, Depends(require_page(Permission.MANAGE_USERS))]
SignedInAuditReader = Annotated[User, Depends(require_page(Permission.READ_AUDIT))]
SignedInRetentionManager = Annotated[User, Depends(require_page(Permission.MANAGE_RETENTION))]
SignedInImportManager = Annotated[User, Depends(require_page(Permission.MANAGE_IMPORTS))]
