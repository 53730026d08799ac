"""The user and token administration API: admin only, audited, secrets shown once."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from factories import Actors, assert_problem, make_user
from records_service.audit.log import entries_for_subject, log_size
from records_service.db import read_scope
from records_service.runtime.services import Services


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _add_carol(client: TestClient, actors: Actors) -> dict:  # type: ignore[type-arg]
    body = {"username": "carol", "roles": ["staff", "reviewer"], "token_label": "laptop"}
    response = client.post("/api/users", json=body, headers=actors.admin)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/users/carol"
    return response.json()  # type: ignore[no-any-return]


def test_an_admin_adds_a_user_whose_token_works_at_once(
    client: TestClient, actors: Actors, services: Services
) -> None:
    created = _add_carol(client, actors)
    user, token = created["user"], created["token"]
    assert user["username"] == "carol" and user["roles"] == ["staff", "reviewer"]
    assert user["disabled"] is False and user["active_tokens"] == 1
    assert "password_hash" not in user
    assert token["username"] == "carol" and token["token"].startswith(f"rs_{token['id']}_")
    assert client.get("/api/records", headers=_bearer(token["token"])).status_code == 200
    with read_scope(services.engine) as session:
        actions = [(e.actor, e.action) for e in entries_for_subject(session, "user:carol")]
    assert actions == [("ada", "user.create"), ("ada", "token.issue")]
    listed = client.get("/api/users/carol/tokens", headers=actors.admin).json()
    assert listed == [
        {
            "id": token["id"],
            "label": "laptop",
            "created_at": listed[0]["created_at"],
            "revoked_at": None,
        }
    ]


def test_a_revoked_token_stops_working_and_the_users_other_token_does_not(
    client: TestClient, actors: Actors
) -> None:
    first = _add_carol(client, actors)["token"]
    response = client.post("/api/users/carol/tokens", json={"label": "ci"}, headers=actors.admin)
    assert response.status_code == 201, response.text
    second = response.json()
    assert second["id"] != first["id"]

    revoked = client.post(f"/api/tokens/{first['id']}/revoke", headers=actors.admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["id"] == first["id"] and revoked.json()["revoked_at"] is not None
    assert_problem(client.get("/api/records", headers=_bearer(first["token"])), 401)
    assert client.get("/api/records", headers=_bearer(second["token"])).status_code == 200
    assert client.get("/api/users/carol", headers=actors.admin).json()["active_tokens"] == 1
    assert_problem(client.post(f"/api/tokens/{first['id']}/revoke", headers=actors.admin), 409)
    assert_problem(client.post(f"/api/tokens/{'0' * 16}/revoke", headers=actors.admin), 404)


def test_disabling_a_user_stops_their_tokens_and_refuses_new_ones(
    client: TestClient, actors: Actors, services: Services
) -> None:
    token = _add_carol(client, actors)["token"]["token"]
    response = client.post("/api/users/carol/disable", headers=actors.admin)
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True
    assert_problem(client.get("/api/records", headers=_bearer(token)), 401)
    entries = _log_size(services)
    refused = client.post("/api/users/carol/tokens", json={}, headers=actors.admin)
    assert "is disabled" in assert_problem(refused, 409)["detail"]
    assert _log_size(services) == entries
    assert len(client.get("/api/users/carol/tokens", headers=actors.admin).json()) == 1


def test_an_admin_cannot_disable_themselves_nor_leave_no_active_admin(
    client: TestClient, actors: Actors, services: Services
) -> None:
    entries = _log_size(services)
    refused = client.post("/api/users/ada/disable", headers=actors.admin)
    assert "your own account" in assert_problem(refused, 409)["detail"]
    assert _log_size(services) == entries
    assert client.get("/api/users/ada", headers=actors.admin).json()["disabled"] is False

    ann = make_user(services, "ann", "admin", "staff")
    assert client.post("/api/users/ada/disable", headers=ann).status_code == 200
    assert_problem(client.get("/api/users", headers=actors.admin), 401)
    last = client.post("/api/users/ann/disable", headers=ann)
    assert "your own account" in assert_problem(last, 409)["detail"]
    assert client.get("/api/users/ann", headers=ann).json()["disabled"] is False


def test_users_are_listed_by_name_a_page_at_a_time(client: TestClient, actors: Actors) -> None:
    first = client.get("/api/users?page_size=4", headers=actors.admin).json()
    second = client.get("/api/users?page_size=4&page=2", headers=actors.admin).json()
    names = [u["username"] for u in first["items"] + second["items"]]
    assert names == ["ada", "aud", "rita", "rob", "sam", "sue"]
    assert first["total"] == second["total"] == 6
    assert all(u["active_tokens"] == 1 for u in first["items"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("GET", "/api/users/sam"),
        ("POST", "/api/users/sam/disable"),
        ("GET", "/api/users/sam/tokens"),
        ("POST", "/api/users/sam/tokens"),
        ("POST", "/api/tokens/0123456789abcdef/revoke"),
    ],
)
def test_only_admins_may_administer_users(
    client: TestClient, actors: Actors, method: str, path: str
) -> None:
    body = {"username": "mallory", "roles": ["admin"]} if path == "/api/users" else {}
    for headers in (actors.staff, actors.records_manager, actors.auditor, actors.reviewer):
        assert_problem(client.request(method, path, json=body, headers=headers), 403)
    assert_problem(client.request(method, path, json=body), 401)
    users = client.get("/api/users", headers=actors.admin).json()["items"]
    assert [u["username"] for u in users if u["disabled"]] == []
    assert "mallory" not in {u["username"] for u in users}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "carol", "roles": ["superuser"]}, 422),
        ({"username": "carol", "roles": []}, 422),
        ({"username": "Carol Smith", "roles": ["staff"]}, 422),
        ({"username": "sam", "roles": ["staff"]}, 409),
        ({"username": "carol", "roles": ["staff"], "password_hash": "x"}, 422),
    ],
)
def test_bad_new_users_are_refused_and_nothing_is_written(
    client: TestClient,
    actors: Actors,
    services: Services,
    body: dict,  # type: ignore[type-arg]
    status: int,
) -> None:
    users = client.get("/api/users", headers=actors.admin).json()["total"]
    entries = _log_size(services)
    assert_problem(client.post("/api/users", json=body, headers=actors.admin), status)
    assert client.get("/api/users", headers=actors.admin).json()["total"] == users
    assert _log_size(services) == entries


def _log_size(services: Services) -> int:
    with read_scope(services.engine) as session:
        return log_size(session)


def test_unknown_users_are_404(client: TestClient, actors: Actors) -> None:
    for method, path in (("GET", "/api/users/nobody"), ("POST", "/api/users/nobody/disable")):
        assert_problem(client.request(method, path, headers=actors.admin), 404)
    response = client.post("/api/users/nobody/tokens", json={}, headers=actors.admin)
    assert_problem(response, 404)


def test_an_admin_changes_roles_audited_and_never_leaves_a_user_without_one(
    client: TestClient, actors: Actors, services: Services
) -> None:
    token = _add_carol(client, actors)["token"]["token"]
    change = {"add": ["auditor"], "remove": ["staff", "reviewer"]}
    response = client.post("/api/users/carol/roles", json=change, headers=actors.admin)
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["auditor"]
    # The new roles apply to the token at once: an auditor reads the audit log.
    assert client.get("/api/audit/entries", headers=_bearer(token)).status_code == 200
    with read_scope(services.engine) as session:
        [entry] = [
            e for e in entries_for_subject(session, "user:carol") if e.action == "user.roles"
        ]
    assert entry.actor == "ada"
    assert json.loads(entry.details) == {
        "username": "carol",
        "added": ["auditor"],
        "removed": ["staff", "reviewer"],
        "roles": ["auditor"],
    }
    size = _log_size(services)
    last = client.post("/api/users/carol/roles", json={"remove": ["auditor"]}, headers=actors.admin)
    assert "no role" in assert_problem(last, 409)["detail"]
    unknown = client.post("/api/users/carol/roles", json={"add": ["boss"]}, headers=actors.admin)
    assert_problem(unknown, 422)
    demote = {"add": ["staff"], "remove": ["admin"]}
    only_admin = client.post("/api/users/ada/roles", json=demote, headers=actors.admin)
    assert "last active admin" in assert_problem(only_admin, 409)["detail"]
    nobody = client.post("/api/users/nobody/roles", json={"add": ["staff"]}, headers=actors.admin)
    assert_problem(nobody, 404)
    assert _log_size(services) == size
    assert client.get("/api/users/carol", headers=actors.admin).json()["roles"] == ["auditor"]
