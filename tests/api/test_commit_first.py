"""A write commits before its response is sent, and a failed commit is never a 2xx.

The structural guard walks every route's dependencies: a dependency with ``yield``
left at FastAPI's default scope runs its exit (for the session, the commit) after the
response has gone out. The behavioural tests inject a real commit fault and check
that the client hears of it and that nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from inspect import isasyncgenfunction, isgeneratorfunction
from pathlib import Path

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from sqlalchemy import event

from factories import Actors, capture, create_contract, make_settings
from records_service.app import create_app
from records_service.runtime.services import Services
from support.routes import operations


def _generator_dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        if isgeneratorfunction(sub.call) or isasyncgenfunction(sub.call):
            yield sub
        yield from _generator_dependencies(sub)


def test_every_yield_dependency_exits_before_the_response(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}"), background=False)
    routes = operations(app)
    late = {
        f"{sorted(route.methods)} {route.path}: {getattr(dep.call, '__name__', dep.call)}"
        for route in routes
        for dep in _generator_dependencies(route.dependant)
        if dep.scope != "function"
    }
    assert late == set(), "these dependencies would commit after the response is sent"
    # The guard has something to guard: the session dependency is used by write routes.
    users = {
        route.path
        for route in routes
        for dep in _generator_dependencies(route.dependant)
        if getattr(dep.call, "__name__", "") == "get_session"
    }
    assert "/api/tokens/{token_id}/revoke" in users


@contextmanager
def failing_commits(services: Services) -> Iterator[list[int]]:
    """Make every commit on the service's engine fail, as a full disk or lost server would."""
    failures: list[int] = []

    def fail(_connection: object) -> None:
        failures.append(1)
        raise RuntimeError("injected fault in commit")

    event.listen(services.engine, "commit", fail)
    try:
        yield failures
    finally:
        event.remove(services.engine, "commit", fail)


@pytest.mark.server_errors_as_responses
def test_a_failed_commit_of_a_patch_is_a_5xx_and_changes_nothing(
    client: TestClient, services: Services, actors: Actors
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    record_id = capture(client, actors.staff).json()["id"]
    with failing_commits(services) as failures:
        response = client.patch(
            f"/api/records/{record_id}",
            json={"title": "Changed title", "reason": "testing a failed commit"},
            headers=actors.staff,
        )
    assert failures, "the fault was never injected"
    assert response.status_code >= 500
    assert response.headers["content-type"].startswith("application/problem+json")
    after = client.get(f"/api/records/{record_id}", headers=actors.staff).json()
    assert after["title"] == "Needs assessment 2023"


@pytest.mark.server_errors_as_responses
def test_a_failed_commit_of_a_revocation_is_a_5xx_and_the_token_still_works(
    client: TestClient, services: Services, actors: Actors
) -> None:
    issued = client.post("/api/users/sam/tokens", json={"label": "spare"}, headers=actors.admin)
    assert issued.status_code == 201
    spare = {"Authorization": f"Bearer {issued.json()['token']}"}
    with failing_commits(services) as failures:
        response = client.post(f"/api/tokens/{issued.json()['id']}/revoke", headers=actors.admin)
    assert failures and response.status_code >= 500
    # What the client was told matches what happened: the token was not revoked.
    assert client.get("/api/records", headers=spare).status_code == 200


@pytest.mark.server_errors_as_responses
def test_a_failed_commit_of_a_disable_is_a_5xx_and_the_user_still_works(
    client: TestClient, services: Services, actors: Actors
) -> None:
    with failing_commits(services) as failures:
        response = client.post("/api/users/rita/disable", headers=actors.admin)
    assert failures and response.status_code >= 500
    assert client.get("/api/records", headers=actors.reviewer).status_code == 200
