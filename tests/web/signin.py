"""Signing in through the login form, the test users and their password."""

from __future__ import annotations

import html
import re
from functools import cache

from fastapi.testclient import TestClient
from httpx import Response

from records_service.auth.passwords import hash_password
from records_service.auth.service import add_user
from records_service.db import session_scope
from records_service.runtime.services import Services

PASSWORD = "correct horse battery"
PEOPLE = {
    "sam": ("staff",),
    "sue": ("staff",),
    "rita": ("reviewer",),
    "rob": ("records_manager",),
    "rhi": ("records_manager",),
    "aud": ("auditor",),
    "ada": ("admin",),
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_UPLOAD_ACTION = re.compile(r'<form method="post" action="([^"]+)" enctype="multipart/form-data"')


def csrf_of(page: Response) -> str:
    """The CSRF token in a rendered page's forms."""
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on {page.url}"
    return match.group(1)


def upload_action(page: Response) -> str:
    """Where a page's upload form posts: its address carries the CSRF token."""
    match = _UPLOAD_ACTION.search(page.text)
    assert match, f"no upload form on {page.url}"
    return html.unescape(match.group(1))


@cache
def password_hash() -> str:
    """The Argon2 hash of the shared password, computed once: hashing is slow on purpose."""
    return hash_password(PASSWORD)


def add_person(services: Services, username: str, *roles: str) -> None:
    """Create a user whose password is the shared test password."""
    with session_scope(services.engine) as session:
        user = add_user(session, username=username, roles=roles, clock=services.clock)
        user.password_hash = password_hash()
        session.add(user)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    """Sign ``client`` in through the login form; returns the login response."""
    form = client.get("/login")
    response: Response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form)},
    )
    return response
