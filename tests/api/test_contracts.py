"""Contract routes: create, list, read, update; uniqueness and validation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import Actors, create_contract


def test_create_and_read(client: TestClient, actors: Actors) -> None:
    response = create_contract(client, actors.staff, is_deed=True)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/contracts/OPCC-2023-014"
    body = client.get("/api/contracts/OPCC-2023-014", headers=actors.reviewer).json()
    assert body["awarded_value_pence"] == 4_500_000
    assert body["is_deed"] is True
    assert body["status"] == "active"


def test_reference_is_unique(client: TestClient, actors: Actors) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    again = create_contract(client, actors.staff, title="Another")
    assert again.status_code == 409
    assert again.json()["type"].endswith("conflict")


def test_invalid_bodies_are_422_problems(client: TestClient, actors: Actors) -> None:
    cases: list[dict[str, object]] = [
        {"end_date": "2020-01-01"},
        {"status": "dreaming"},
        {"awarded_value_pence": -5},
        {"reference": "../etc"},
        {"awarded_value_pence": 12.5},
    ]
    for overrides in cases:
        response = create_contract(client, actors.staff, **overrides)
        assert response.status_code == 422, overrides
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


def test_update_changes_fields_and_checks_dates(client: TestClient, actors: Actors) -> None:
    create_contract(client, actors.staff)
    response = client.patch(
        "/api/contracts/OPCC-2023-014",
        json={"status": "closed", "end_date": "2026-01-31", "closed_on": "2026-02-01"},
        headers=actors.records_manager,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"
    bad = client.patch(
        "/api/contracts/OPCC-2023-014", json={"end_date": "2019-01-01"}, headers=actors.staff
    )
    assert bad.status_code == 422
    unknown = client.patch("/api/contracts/NOPE-1", json={"title": "x"}, headers=actors.staff)
    assert unknown.status_code == 404


def test_list_filters_and_pages(client: TestClient, actors: Actors) -> None:
    for n in range(1, 8):
        status = "active" if n % 2 else "planned"
        create_contract(client, actors.staff, reference=f"OPCC-2024-{n:03d}", status=status)
    page = client.get("/api/contracts?status=active&page_size=2&page=2", headers=actors.auditor)
    body = page.json()
    assert body["total"] == 4
    assert [c["reference"] for c in body["items"]] == ["OPCC-2024-005", "OPCC-2024-007"]
    assert client.get("/api/contracts?q=2024-00", headers=actors.staff).json()["total"] == 7


def test_roles(client: TestClient, actors: Actors) -> None:
    assert create_contract(client, actors.reviewer).status_code == 403
    assert create_contract(client, actors.auditor).status_code == 403
