"""Pages enforce the same role table as the API: each role reaches what it may, and
gets a 403 page (or no link) for what it may not."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from records_service.auth.models import Role
from records_service.auth.roles import Permission, allows
from web.signin import PEOPLE, csrf_of

# Page, and the permission its GET needs.
PAGES = {
    "/": Permission.READ,
    "/search": Permission.READ,
    "/records": Permission.READ,
    "/contracts": Permission.READ,
    "/upload": Permission.CAPTURE,
    "/contracts/new": Permission.MANAGE_CONTRACTS,
    "/retention": Permission.READ_AUDIT,
    "/retention/dispositions": Permission.READ_AUDIT,
    "/retention/holds": Permission.READ_AUDIT,
    "/retention/findings.csv": Permission.READ_AUDIT,
    "/audit": Permission.READ_AUDIT,
    "/admin/users": Permission.MANAGE_USERS,
    "/admin/users/new": Permission.MANAGE_USERS,
}
# Forms, and the permission posting them needs (refused before anything is read).
FORMS = {
    "/upload": Permission.CAPTURE,
    "/contracts/new": Permission.MANAGE_CONTRACTS,
    "/retention/run": Permission.MANAGE_RETENTION,
    "/retention/holds": Permission.MANAGE_RETENTION,
    "/audit/verify": Permission.READ_AUDIT,
    "/admin/users/new": Permission.MANAGE_USERS,
    "/admin/users/sam/disable": Permission.MANAGE_USERS,
}


@pytest.mark.parametrize("username", ["sam", "rita", "rob", "aud", "ada"])
def test_each_role_reaches_exactly_its_pages(
    username: str, browser_for: Callable[[str], TestClient]
) -> None:
    client = browser_for(username)
    roles = frozenset(Role(r) for r in PEOPLE[username])
    for path, permission in PAGES.items():
        expected = 200 if allows(roles, permission) else 403
        assert client.get(path).status_code == expected, (username, path)
    token = csrf_of(client.get("/"))
    for path, permission in FORMS.items():
        if allows(roles, permission):
            continue
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 403, (username, path)
        assert "Forbidden" in response.text
    dashboard = client.get("/").text
    assert ('href="/admin/users"' in dashboard) == allows(roles, Permission.MANAGE_USERS)
    assert ('href="/audit"' in dashboard) == allows(roles, Permission.READ_AUDIT)
    assert ('href="/upload"' in dashboard) == allows(roles, Permission.CAPTURE)
