"""Idempotency-Key on capture and new-version requests: a client that lost the response
retries and gets the same record, never a second capture or audit entry."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from factories import Actors, FixedClock, assert_problem, create_contract, record_form
from records_service.audit.models import AuditEntry
from records_service.db import read_scope, session_scope
from records_service.records.models import IdempotencyKey, Record, Version
from records_service.runtime.services import Services
from support.faults import FaultyStore

CONTENT = b"Needs assessment for the domestic abuse helpline.\n"


def _capture(
    client: TestClient, headers: dict[str, str], key: str, content: bytes = CONTENT, **form: Any
) -> Response:
    response: Response = client.post(
        "/api/records",
        data=record_form(**form),
        files={"file": ("needs.txt", io.BytesIO(content), "text/plain")},
        headers={**headers, "Idempotency-Key": key},
    )
    return response


def _count(services: Services, model: Any, *where: Any) -> int:
    with read_scope(services.engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def _audited(services: Services, action: str) -> int:
    return _count(services, AuditEntry, AuditEntry.action == action)


def test_a_client_that_lost_the_response_retries_and_gets_the_same_record(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    first = _capture(client, actors.staff, "capture-0001")
    assert first.status_code == 201, first.text
    retry = _capture(client, actors.staff, "capture-0001")
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (_count(services, Record), _audited(services, "record.capture")) == (1, 1)

    path = f"/api/records/{first.json()['id']}/versions"
    sent = {"files": {"file": ("v2.txt", b"signed\n")}}
    headers = {**actors.staff, "Idempotency-Key": "version-0001"}
    version = client.post(path, headers=headers, **sent)
    again = client.post(path, headers=headers, **sent)
    assert (version.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == version.json() and again.json()["current_version"] == 2
    assert (_count(services, Version), _audited(services, "record.version")) == (2, 1)


def test_the_same_key_for_another_request_is_refused_and_keys_are_per_user(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    assert _capture(client, actors.staff, "k-1").status_code == 201
    other_title = _capture(client, actors.staff, "k-1", title="Something else")
    body = assert_problem(other_title, 422)
    assert body["type"].endswith(":idempotency-key-reused")
    assert "different request" in body["detail"]
    other_file = _capture(client, actors.staff, "k-1", content=b"other bytes\n")
    assert assert_problem(other_file, 422)["type"].endswith(":idempotency-key-reused")
    theirs = _capture(client, actors.staff2, "k-1")
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert _count(services, Record) == 2


def test_a_failed_request_does_not_bind_its_key(
    client: TestClient, actors: Actors, services: Services
) -> None:
    refused = _capture(client, actors.staff, "k-2", record_type="no_such_type", contract=None)
    assert_problem(refused, 422)
    accepted = _capture(client, actors.staff, "k-2", contract=None)
    assert accepted.status_code == 201, accepted.text
    assert _count(services, IdempotencyKey, IdempotencyKey.state == "done") == 1


@pytest.mark.server_errors_as_responses
def test_a_duplicate_arriving_while_the_first_captures_is_refused_not_captured(
    client: TestClient, actors: Actors, services: Services
) -> None:
    """The second request comes in while the first is storing its file."""
    duplicates: list[Response] = []

    def duplicate_arrives(_key: str) -> None:
        if not duplicates:
            duplicates.append(_capture(client, actors.staff, "k-3", contract=None))

    services.store = FaultyStore(services.store, before_put=duplicate_arrives)
    first = _capture(client, actors.staff, "k-3", contract=None)
    assert first.status_code == 201, first.text
    [duplicate] = duplicates
    assert assert_problem(duplicate, 409)["type"].endswith(":idempotency-key-in-use")
    assert duplicate.headers["retry-after"]
    assert _count(services, Record) == 1
    assert _capture(client, actors.staff, "k-3", contract=None).json() == first.json()


def test_the_database_allows_one_row_per_user_and_key(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert _capture(client, actors.staff, "k-4", contract=None).status_code == 201
    with read_scope(services.engine) as session:
        row = session.exec(select(IdempotencyKey)).one()
    copy = IdempotencyKey(**row.model_dump(exclude={"id"}))
    with pytest.raises(IntegrityError), session_scope(services.engine) as session:
        session.add(copy)


def test_keys_are_forgotten_after_their_time(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    first = _capture(client, actors.staff, "k-5", contract=None)
    clock.advance(hours=23)
    assert services.run_background_once() >= 0
    assert _count(services, IdempotencyKey) == 1
    clock.advance(hours=2)
    services.run_background_once()
    assert _count(services, IdempotencyKey) == 0
    later = _capture(client, actors.staff, "k-5", contract=None, title="A new record")
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_header_is_documented_on_both_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/records", "/api/records/{record_id}/versions"):
        operation = paths[path]["post"]
        [header] = [p for p in operation["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and not header.get("required")
        assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
