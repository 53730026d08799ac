"""Every bad input gets a 4xx problem response, and leaves nothing behind."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from factories import Actors, FixedClock, assert_problem, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.records.models import Record, Version
from records_service.runtime.services import Services
from support.failures import failure_total


def _counts(services: Services) -> tuple[int, int, int, list[str]]:
    with session_scope(services.engine) as session:
        records = session.exec(select(func.count()).select_from(Record)).one()
        versions = session.exec(select(func.count()).select_from(Version)).one()
        entries = session.exec(select(func.count()).select_from(AuditEntry)).one()
    return records, versions, entries, list(services.store.list("records/"))


@pytest.mark.parametrize(
    ("overrides", "status", "needle"),
    [
        ({"record_type": "shopping_list"}, 422, "unknown record type"),
        ({"contract": "OPCC-1999-404"}, 422, "no contract"),
        ({"record_date": "2031-01-01"}, 422, "future"),
        ({"record_date": "1850-01-01"}, 422, "before"),
        ({"record_date": "31/12/2023"}, 422, "record_date"),
        ({"classification": "TOP-SECRET"}, 422, "classification"),
        ({"content": b""}, 422, "empty"),
        ({"filename": "../../etc/passwd"}, 422, "path"),
        ({"filename": "dir\\evil.txt"}, 422, "path"),
        ({"content": b"x" * (2 * 1024 * 1024 + 1)}, 413, "limit"),
        ({"title": ""}, 422, "title"),
    ],
)
def test_bad_capture_input(
    client: TestClient,
    actors: Actors,
    services: Services,
    overrides: dict[str, object],
    status: int,
    needle: str,
) -> None:
    create_contract(client, actors.staff)
    before = _counts(services)
    response = capture(client, actors.staff, **overrides)  # type: ignore[arg-type]
    body = assert_problem(response, status)
    assert needle in body["detail"].lower() or needle in str(body.get("errors", "")).lower()
    assert _counts(services) == before


@pytest.mark.parametrize("filename", [b"bad\x07name.txt", b"line\x1bbreak.txt", b"tab\there.txt"])
def test_control_characters_in_filename(
    client: TestClient, actors: Actors, services: Services, filename: bytes
) -> None:
    """Sent raw (clients normally percent-encode them), as a hostile client would."""
    create_contract(client, actors.staff)
    before = _counts(services)
    boundary = b"XyZboundary"
    fields = {"title": b"t", "record_type": b"contract", "record_date": b"2024-01-01"}
    parts = [
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="'
        + k.encode()
        + b'"\r\n\r\n'
        + v
        for k, v in fields.items()
    ]
    parts.append(
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: text/plain\r\n\r\nhello'
    )
    body = b"\r\n".join(parts) + b"\r\n--" + boundary + b"--\r\n"
    headers = {**actors.staff, "Content-Type": "multipart/form-data; boundary=XyZboundary"}
    response = client.post("/api/records", content=body, headers=headers)
    assert (
        assert_problem(response, 422)["detail"]
        == "the filename must not contain control characters"
    )
    assert _counts(services) == before


def test_missing_file_is_422(client: TestClient, actors: Actors) -> None:
    response = client.post(
        "/api/records",
        data={"title": "t", "record_type": "contract", "record_date": "2024-01-01"},
        headers=actors.staff,
    )
    assert_problem(response, 422)


def test_auth_failures(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    before = failure_total(services.engine)
    assert_problem(client.get("/api/records"), 401)
    assert_problem(client.get("/api/records", headers={"Authorization": "Bearer nope"}), 401)
    forged = actors.staff["Authorization"][:-4] + "AAAA"
    response = client.get("/api/records", headers={"Authorization": forged})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    # The first failure of each kind is audited at once, the rest once the interval closes.
    clock.advance(seconds=services.settings.auth.failure_interval_seconds)
    assert services.flush_auth_failures() > 0
    assert failure_total(services.engine) == before + 3, "each failed authentication is audited"


def test_wrong_roles_cannot_capture(client: TestClient, actors: Actors, services: Services) -> None:
    create_contract(client, actors.staff)
    before = _counts(services)
    assert_problem(capture(client, actors.reviewer), 403)
    assert_problem(capture(client, actors.auditor), 403)
    assert _counts(services) == before
    assert capture(client, actors.records_manager).status_code == 201


def test_disabled_user_token_stops_working(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    from records_service.auth.service import disable_user

    assert client.get("/api/records", headers=actors.staff2).status_code == 200
    with session_scope(services.engine) as session:
        disable_user(session, username="sue", actor="test", clock=clock)
    assert_problem(client.get("/api/records", headers=actors.staff2), 401)


def test_a_revoked_token_stops_working_and_the_others_do_not(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    from records_service.auth.service import issue_token, list_tokens, revoke_token
    from records_service.errors import Conflict, NotFound

    with session_scope(services.engine) as session:
        second = {"Authorization": "Bearer " + issue_token(session, username="sue", clock=clock)}
        first_id, second_id = (t.public_id for t in list_tokens(session, "sue"))
        revoke_token(session, token_id=first_id, actor="ada", clock=clock)
    assert_problem(client.get("/api/records", headers=actors.staff2), 401)
    assert client.get("/api/records", headers=second).status_code == 200
    with session_scope(services.engine) as session:
        revoked, active = list_tokens(session, "sue")
        assert (revoked.public_id, revoked.revoked_at) == (first_id, clock())
        assert (active.public_id, active.revoked_at) == (second_id, None)
        with pytest.raises(Conflict):
            revoke_token(session, token_id=first_id, actor="ada", clock=clock)
        with pytest.raises(NotFound):
            revoke_token(session, token_id="0" * 16, actor="ada", clock=clock)


def test_unknown_routes_and_records_are_problems(client: TestClient, actors: Actors) -> None:
    assert_problem(client.get("/api/records/0123456789abcdef", headers=actors.staff), 404)
    # An id longer than any id can be is refused by its bound, before any lookup.
    assert_problem(client.get("/api/records/" + "x" * 300, headers=actors.staff), 422)
    assert_problem(client.get("/api/records/" + "x" * 64, headers=actors.staff), 404)
    assert_problem(client.get("/api/nothing", headers=actors.staff), 404)
    assert_problem(client.get("/api/records?page=0", headers=actors.staff), 422)
    assert_problem(client.get("/api/records?page_size=100000", headers=actors.staff), 422)
