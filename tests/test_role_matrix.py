"""Every route as every role and as no one, against the one table in support/role_matrix.py.

The routes come from the app's own route table, so a new route fails here until
it is declared. For each route and identity one request is sent to one real app:
an identity the table allows must not be refused (401, 403 or a redirect to the
login page; a 404 or 422 for a made-up id or an empty form is fine, the point is
the permission decision), and one it does not allow must be: 401 from the API
for no one, the login redirect from a page for no one, 403 for a signed-in role.
Web forms are sent with the session's CSRF token, so a 403 is never the CSRF check.

The table is also checked against the permission dependencies in the code (it may
not allow more than they do) and against the README's roles table.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from starlette.routing import Mount

from factories import FixedClock, make_settings
from records_service.api.deps import get_current_user
from records_service.app import create_app
from records_service.audit.keys import ensure_signing_key
from records_service.auth.models import Role
from records_service.auth.roles import GRANTS, Permission
from records_service.auth.service import issue_token
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.web.deps import page_user
from support.role_matrix import (
    ADMIN,
    ANONYMOUS,
    AUDITOR,
    CHANGES_NOTHING_SHARED,
    EVERYONE,
    IDENTITIES,
    README_ROLES,
    RECORDS_MANAGER,
    REVIEWER,
    ROLES,
    ROUTES,
    SIGNED_IN,
    STAFF,
    Allowed,
)
from web.signin import add_person, csrf_of, sign_in

README = Path(__file__).resolve().parents[1] / "README.md"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Plausible values for path parameters: well-formed, but naming nothing.
PATH_VALUES = {
    "record_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
    "number": "1",
    "reference": "NO-SUCH-CONTRACT",
    "disposition_id": "4242",
    "hold_id": "4242",
    "batch_id": "4242",
    "gap_id": "4242",
    "index": "4242",
    "username": "nobody-here",
    "token_id": "nosuchtoken",
    "payment_id": "4242",
    "entry": "payment",
    "path": "site.css",
}
# Routes that end the caller's session (and renew its CSRF token): each is tried with a
# session of its own. Their answer is the login page, as a refusal's would be, so what
# shows they were allowed is that the session is over.
ENDS_SESSION = frozenset({("POST", "/logout")})


def _iter_routes(app: FastAPI) -> Iterator[Any]:
    """The app's routes, with included routers flattened (newer FastAPI keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        yield from app.routes
        return
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        yield route if isinstance(route, Mount) else context


def served_routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    """``(method, path template) -> route`` for everything the app serves (HEAD mirrors GET)."""
    served: dict[tuple[str, str], Any] = {}
    for route in _iter_routes(app):
        if isinstance(route, Mount):
            served[("GET", route.path + "/{path}")] = route
            continue
        methods = getattr(route, "methods", None) or set()
        path = getattr(route, "path", None)
        assert isinstance(path, str), f"a route without a path: {route!r}"
        for method in methods - {"HEAD"}:
            served[(method, path)] = route
    return served


def _app_for_listing(tmp_path: Path) -> FastAPI:
    return create_app(make_settings(tmp_path, f"sqlite:///{tmp_path}/unused.db"), background=False)


# --- the table against the app and the code -------------------------------------------


def test_every_served_route_is_declared_once(tmp_path: Path) -> None:
    served = set(served_routes(_app_for_listing(tmp_path)))
    undeclared = sorted(served - set(ROUTES))
    stale = sorted(set(ROUTES) - served)
    assert not undeclared, f"declare these in tests/support/role_matrix.py: {undeclared}"
    assert not stale, f"the table names routes the app does not serve: {stale}"


def _dependency_calls(route: Any) -> Iterator[Callable[..., Any]]:
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        for sub in dependant.dependencies:
            if sub.call is not None:
                yield sub.call
            stack.append(sub)


def _permissions(call: Callable[..., Any]) -> Iterator[Permission]:
    # ``require`` and ``require_page`` close over the permission they check.
    for cell in getattr(call, "__closure__", None) or ():
        if isinstance(cell.cell_contents, Permission):
            yield cell.cell_contents


def allowed_by_dependencies(route: Any) -> Allowed:
    """The identities the route's own dependencies let through."""
    calls = list(_dependency_calls(route))
    if not any(call in (get_current_user, page_user) for call in calls):
        return EVERYONE
    allowed = set(SIGNED_IN)
    for call in calls:
        for permission in _permissions(call):
            allowed &= {role.value for role in GRANTS[permission]}
    return frozenset(allowed)


def test_the_table_allows_no_more_than_the_code(tmp_path: Path) -> None:
    served = served_routes(_app_for_listing(tmp_path))
    wider = {
        f"{method} {path}": sorted(ROUTES[(method, path)] - allowed_by_dependencies(route))
        for (method, path), route in served.items()
        if (method, path) in ROUTES and ROUTES[(method, path)] - allowed_by_dependencies(route)
    }
    assert not wider, f"the table allows identities the code refuses: {wider}"


# --- the table against the README ----------------------------------------------------


def _readme_roles() -> dict[str, str]:
    section = README.read_text(encoding="utf-8").split("## Users and roles", 1)[1]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|$", section.split("\n\n", 2)[1], re.MULTILINE)
    return dict(rows)


def test_the_roles_are_the_readme_roles() -> None:
    assert _readme_roles() == README_ROLES, "the README's roles changed: review the role matrix"
    assert set(ROLES) == {role.value for role in Role}


def _routes_of(identity: str) -> set[tuple[str, str]]:
    return {key for key, allowed in ROUTES.items() if identity in allowed}


def test_the_table_follows_the_readme() -> None:
    signed_in = {key for key, allowed in ROUTES.items() if allowed & SIGNED_IN}
    assert _routes_of(ADMIN) == signed_in, "admin: everything"
    assert _routes_of(STAFF) | _routes_of(REVIEWER) <= _routes_of(RECORDS_MANAGER), (
        "records_manager: as staff and reviewer"
    )
    for read_only in (REVIEWER, AUDITOR):
        changes = {k for k in _routes_of(read_only) if k[0] in UNSAFE} - CHANGES_NOTHING_SHARED
        assert not changes, f"{read_only} may only read, yet may use {sorted(changes)}"
    for key, allowed in ROUTES.items():
        path = key[1]
        if path.startswith(("/api/users", "/api/tokens", "/admin")):
            assert allowed == {ADMIN}, f"{key}: users are for admins only"
        if path.startswith(("/api/audit/entries", "/api/audit/c", "/audit")):
            assert allowed <= {AUDITOR, RECORDS_MANAGER, ADMIN}, f"{key}: the audit log"
        if key[0] in UNSAFE and path.startswith(("/api/retention", "/retention")):
            assert allowed == {RECORDS_MANAGER, ADMIN}, f"{key}: holds and dispositions"


# --- the table against the running app ------------------------------------------------


@dataclass
class Callers:
    """One app; for each identity a bearer header and a browser with a CSRF token."""

    client: TestClient
    services: Services
    bearer: dict[str, dict[str, str]]
    browsers: dict[str, tuple[TestClient, str]]

    def browser(self, identity: str, *, own_session: bool) -> tuple[TestClient, str]:
        if not own_session:
            return self.browsers[identity]
        if identity == ANONYMOUS:
            return _anonymous_browser(self.client.app)
        return _signed_in_browser(self.client.app, identity)


def _signed_in_browser(app: Any, username: str) -> tuple[TestClient, str]:
    browser = TestClient(app, follow_redirects=False)
    response = sign_in(browser, username)
    assert response.status_code == 303, response.text
    return browser, csrf_of(browser.get("/account/password"))


def _anonymous_browser(app: Any) -> tuple[TestClient, str]:
    browser = TestClient(app, follow_redirects=False)
    return browser, csrf_of(browser.get("/login"))


@pytest.fixture(scope="module")
def callers(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Callers]:
    root = tmp_path_factory.mktemp("roles")
    (root / "data").mkdir()
    shutil.copy(sqlite_template, root / "data" / "records.db")
    settings = make_settings(root, f"sqlite:///{root}/data/records.db")
    ensure_signing_key(settings)  # as `records-service init` does
    clock = FixedClock(datetime(2026, 6, 15, tzinfo=UTC))
    app = create_app(settings, clock=clock, background=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        bearer: dict[str, dict[str, str]] = {ANONYMOUS: {}}
        for role in ROLES:  # each user is named after their role
            add_person(services, role, role)
            with session_scope(services.engine) as session:
                token = issue_token(session, username=role, clock=services.clock)
            bearer[role] = {"Authorization": f"Bearer {token}"}
        browsers = {role: _signed_in_browser(app, role) for role in ROLES}
        browsers[ANONYMOUS] = _anonymous_browser(app)
        yield Callers(client, services, bearer, browsers)


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES[m.group(1)], path)


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _send(callers: Callers, method: str, path: str, identity: str) -> Response:
    url = _url(path)
    if _is_api(path):
        response: Response = callers.client.request(method, url, headers=callers.bearer[identity])
        return response
    ends_session = (method, path) in ENDS_SESSION
    browser, token = callers.browser(identity, own_session=ends_session)
    if method in UNSAFE:
        response = browser.request(method, url, data={"csrf_token": token})
    else:
        response = browser.request(method, url)
    if ends_session and identity != ANONYMOUS:
        after = browser.get("/account/password")
        assert _to_login(after), f"{method} {path} as {identity} left the session signed in"
    return response


def _to_login(response: Response) -> bool:
    return response.is_redirect and response.headers["location"].startswith("/login")


def _refused(response: Response, method: str, path: str) -> bool:
    if (method, path) in ENDS_SESSION:
        return response.status_code in (401, 403) or not _to_login(response)
    return response.status_code in (401, 403) or _to_login(response)


def _expected_refusal(path: str, identity: str) -> str:
    if identity != ANONYMOUS:
        return "403"
    return "401" if _is_api(path) else "a redirect to /login"


def _matches_refusal(response: Response, expected: str) -> bool:
    if expected == "a redirect to /login":
        return _to_login(response)
    return str(response.status_code) == expected


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_route_as_identity(callers: Callers, method: str, path: str, identity: str) -> None:
    response = _send(callers, method, path, identity)
    summary = f"{method} {path} as {identity}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, f"cannot judge the permission, the server failed: {summary}"
    if identity in ROUTES[(method, path)]:
        assert not _refused(response, method, path), f"allowed by the table but refused: {summary}"
    else:
        expected = _expected_refusal(path, identity)
        assert _matches_refusal(response, expected), f"expected {expected}: {summary}"
