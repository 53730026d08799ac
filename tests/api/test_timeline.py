"""``GET /api/contracts/{ref}/timeline``: every record and version of a contract in date
order, with who captured each and when; hidden records are absent."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import Actors, FixedClock, capture, create_contract


def _capture(client: TestClient, headers: dict[str, str], title: str, day: str, **form: Any) -> str:
    response = capture(client, headers, title=title, record_date=day, **form)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_timeline_orders_by_record_date_then_capture_time_with_who_and_when(
    client: TestClient, actors: Actors, clock: FixedClock
) -> None:
    create_contract(client, actors.staff)
    create_contract(client, actors.staff, reference="OPCC-OTHER-1")
    late = _capture(client, actors.staff, "Closure report", "2024-03-31")
    clock.advance(hours=1)
    early = _capture(client, actors.staff2, "Needs assessment", "2023-01-20")
    clock.advance(hours=1)
    same_day = _capture(client, actors.staff, "Specification", "2023-01-20")
    _capture(client, actors.staff, "Elsewhere", "2023-01-01", contract="OPCC-OTHER-1")
    clock.advance(days=2)
    response = client.post(
        f"/api/records/{early}/versions",
        files={"file": ("v2.txt", b"revised assessment", "text/plain")},
        headers=actors.records_manager,
    )
    assert response.status_code == 201, response.text

    response = client.get("/api/contracts/OPCC-2023-014/timeline", headers=actors.staff)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["contract"], body["title"]) == ("OPCC-2023-014", "Domestic abuse helpline")
    rows = [
        (e["record_id"], e["version"], e["is_current"], e["captured_by"], e["captured_at"])
        for e in body["entries"]
    ]
    assert rows == [
        (early, 1, False, "sue", "2026-06-15T10:30:00Z"),
        (same_day, 1, True, "sam", "2026-06-15T11:30:00Z"),
        (early, 2, True, "rob", "2026-06-17T11:30:00Z"),
        (late, 1, True, "sam", "2026-06-15T09:30:00Z"),
    ]
    first = body["entries"][0]
    assert (first["title"], first["record_date"], first["status"]) == (
        "Needs assessment",
        "2023-01-20",
        "active",
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_timeline_leaves_out_records_the_caller_may_not_see(
    client: TestClient, actors: Actors
) -> None:
    create_contract(client, actors.staff)
    public = _capture(client, actors.staff, "Minutes", "2023-05-01")
    secret = _capture(
        client, actors.staff, "Informant note", "2023-04-01", classification="OFFICIAL-SENSITIVE"
    )

    def ids(headers: dict[str, str]) -> list[str]:
        response = client.get("/api/contracts/OPCC-2023-014/timeline", headers=headers)
        assert response.status_code == 200, response.text
        return [e["record_id"] for e in response.json()["entries"]]

    assert ids(actors.staff2) == [public]
    assert ids(actors.staff) == [secret, public]
    assert ids(actors.reviewer) == [secret, public]
    assert ids(actors.auditor) == [secret, public]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_timeline_of_an_unknown_contract_is_404(client: TestClient, actors: Actors) -> None:
    response = client.get("/api/contracts/NOPE-1/timeline", headers=actors.staff)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
