"""Every input is bounded in its schema: numbers past 64 bits, dates past the service's
range, control characters and oversized lists are a 422 problem, never a 500, and are
refused before any transaction starts.

The integer cases are generated from the served OpenAPI document, so a new route with
an unbounded number fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import Actors, FixedClock, capture, create_contract, make_actors, make_settings
from records_service import db
from records_service.app import create_app
from records_service.bounds import DATE_MAX, DATE_MIN
from records_service.runtime.services import Services
from support.locks import write_lock_held

HUGE = 2**63
FILLERS = {"record_id": "0" * 32, "reference": "OPCC-2023-014", "username": "ada"}


def _operations(client: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _integer(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "integer" for option in options)


def _url(path: str, overrides: dict[str, str]) -> str:
    for name, value in {**FILLERS, **overrides}.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_every_integer_parameter_refuses_numbers_past_64_bits(
    client: TestClient, actors: Actors
) -> None:
    tried = []
    for method, path, operation in _operations(client):
        for parameter in operation.get("parameters", []):
            if not _integer(parameter):
                continue
            name, where = parameter["name"], parameter["in"]
            for value in (str(HUGE), "9" * 23):
                url = _url(path, {name: value} if where == "path" else {})
                query = {name: value} if where == "query" else {}
                response = client.request(
                    method, url, params=query, headers=actors.admin, json={"reason": "bounds"}
                )
                assert response.status_code == 422, (method, path, name, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                tried.append((method, path, name))
    # The routes the attack test named are among those generated.
    names = {(p, n) for _, p, n in tried}
    assert ("/api/records", "page") in names
    assert ("/api/retention/dispositions/{disposition_id}/approve", "disposition_id") in names
    assert ("/api/retention/holds/{hold_id}/release", "hold_id") in names
    assert ("/api/records/{record_id}/content", "version") in names


@pytest.mark.parametrize(
    "field,value",
    [
        ("awarded_value_pence", 10**30),
        ("awarded_value_pence", -1),
        ("start_date", "9999-12-31"),
        ("end_date", "0001-01-01"),
        ("title", "Helpline\x00"),
        ("title", "Helpline \u202eenilpleH"),
        ("provider", "Safe\x07Haven"),
        ("owner", "x" * 201),
    ],
)
def test_contract_fields_are_bounded(
    client: TestClient, actors: Actors, field: str, value: object
) -> None:
    response = create_contract(client, actors.staff, **{field: value})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert client.get("/api/contracts", headers=actors.staff).json()["total"] == 0


def test_the_date_range_is_named_in_the_refusal(client: TestClient, actors: Actors) -> None:
    response = create_contract(client, actors.staff, end_date="9999-12-31")
    assert f"between {DATE_MIN} and {DATE_MAX}" in response.json()["detail"]
    run = client.post("/api/retention/run", json={"at": "9999-12-31"}, headers=actors.admin)
    assert run.status_code == 422
    assert f"between {DATE_MIN} and {DATE_MAX}" in run.json()["detail"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("title", "Needs\x00assessment"),
        ("title", "Needs \u202etnemssessa"),
        ("originator", "Safe\x1bHaven"),
        ("tags", "victims,help\x00line"),
        ("contract", "OPCC\x00"),
        ("record_date", "9999-12-31"),
    ],
)
def test_capture_fields_refuse_control_characters_and_far_dates(
    client: TestClient, actors: Actors, field: str, value: str
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    overrides: dict[str, Any] = {field: value}
    response = capture(client, actors.staff, **overrides)
    assert response.status_code == 422, response.text
    assert client.get("/api/records", headers=actors.staff).json()["total"] == 0


def test_a_reason_may_span_lines_but_not_hold_control_characters(
    client: TestClient, actors: Actors
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    record_id = capture(client, actors.staff).json()["id"]
    url = f"/api/records/{record_id}"
    bad = client.patch(url, json={"title": "T", "reason": "a\x00b"}, headers=actors.staff)
    assert bad.status_code == 422
    good = client.patch(url, json={"title": "T", "reason": "line 1\nline 2"}, headers=actors.staff)
    assert good.status_code == 200, good.text


def test_query_text_with_nul_is_a_422_on_every_database(client: TestClient, actors: Actors) -> None:
    for url in (
        "/api/contracts?q=a%00b",
        "/api/records?contract=a%00b",
        "/api/audit/entries?actor=a%00b",
        "/api/retention/findings?contract=a%00b",
    ):
        response = client.get(url, headers=actors.admin)
        assert response.status_code == 422, (url, response.text)


@pytest.fixture
def impatient_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> Iterator[TestClient]:
    """A client on SQLite whose writers give up on a held write lock after 0.3 s (503)."""
    monkeypatch.setattr(db, "WRITE_LOCK_WAIT_S", 0.3)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    app = create_app(make_settings(tmp_path, sqlite_url), clock=clock, background=False)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("tags", "status"),
    [
        ([f"t{i}" for i in range(5_000)], 422),  # past the tag bound, within the body limit
        (",".join("x" * 70 for _ in range(2)), 422),  # a tag past its length
        ([f"t{i}" for i in range(60_000)], 413),  # the attack's 60,000: past the body limit
    ],
)
def test_oversized_tags_are_refused_before_any_transaction(
    impatient_client: TestClient, tags: object, status: int
) -> None:
    """Refused while another writer holds the lock: a check made inside a transaction
    would have had to wait for the lock, and would answer 503 instead."""
    services: Services = impatient_client.app.state.services  # type: ignore[attr-defined]
    actors = make_actors(services)
    assert create_contract(impatient_client, actors.staff).status_code == 201
    record_id = capture(impatient_client, actors.staff).json()["id"]
    body = {"tags": tags if isinstance(tags, list) else [tags], "reason": "many tags"}
    with write_lock_held(services.engine):
        response = impatient_client.patch(
            f"/api/records/{record_id}", json=body, headers=actors.staff
        )
    assert response.status_code == status, response.text
    if status == 422:
        assert "tags" in response.json()["detail"]


def test_the_largest_award_is_stored_and_read_back(client: TestClient, actors: Actors) -> None:
    """Awards past 32 bits (£21.5 million) fit on PostgreSQL too."""
    for reference, pence in (("OPCC-2024-BIG", 50_000_000_00), ("OPCC-2024-MAX", 10**14)):
        created = create_contract(
            client, actors.staff, reference=reference, awarded_value_pence=pence
        )
        assert created.status_code == 201, created.text
        read = client.get(f"/api/contracts/{reference}", headers=actors.staff).json()
        assert read["awarded_value_pence"] == pence


def test_a_contract_keeps_its_required_fields(client: TestClient, actors: Actors) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    for field in ("title", "status", "is_deed"):
        response = client.patch(
            "/api/contracts/OPCC-2023-014", json={field: None}, headers=actors.staff
        )
        assert response.status_code == 422, response.text
        assert f"{field} cannot be removed" in response.json()["detail"]
    assert client.get("/api/contracts/OPCC-2023-014", headers=actors.staff).json()["title"]
