"""Changing several records at once over the API: tags, a contract, holds; all or nothing,
each record audited, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from factories import Actors, assert_problem, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.runtime.services import Services


def _subjects(services: Services, action: str) -> list[str]:
    with session_scope(services.engine) as session:
        rows = session.exec(select(AuditEntry.subject).where(AuditEntry.action == action))
        return sorted(rows)


def test_bulk_tags_move_and_holds(client: TestClient, actors: Actors, services: Services) -> None:
    for reference in ("OPCC-2023-014", "OPCC-2024-001"):
        assert create_contract(client, actors.staff, reference=reference).status_code == 201
    ids = [capture(client, actors.staff, title=f"Return {n}").json()["id"] for n in (1, 2)]
    missing = client.post(
        "/api/records/bulk",
        json={"record_ids": [*ids, "f" * 32], "action": "tag", "tags": ["x"], "reason": "why"},
        headers=actors.staff,
    )
    assert_problem(missing, 404)
    assert _subjects(services, "record.update") == []  # nothing of the batch was written
    no_tags = {"record_ids": ids, "action": "tag", "reason": "panel review"}
    assert client.post("/api/records/bulk", json=no_tags, headers=actors.staff).status_code == 422
    tagged = client.post(
        "/api/records/bulk", json={**no_tags, "tags": ["Panel", "victims"]}, headers=actors.staff
    )
    assert tagged.status_code == 200, tagged.text
    assert tagged.json() == {"changed": ids, "unchanged": []}
    tags = client.get(f"/api/records/{ids[0]}", headers=actors.staff).json()["tags"]
    assert tags == ["helpline", "panel", "victims"]
    moved = client.post(
        "/api/records/bulk",
        json={"record_ids": ids, "action": "move", "contract": "OPCC-2024-001", "reason": "filed"},
        headers=actors.staff,
    )
    assert moved.status_code == 200
    assert client.get(f"/api/records/{ids[1]}", headers=actors.staff).json()["contract"] == (
        "OPCC-2024-001"
    )
    assert _subjects(services, "record.update") == sorted(f"record:{i}" for i in ids * 2)
    body = {"record_ids": ids, "reference": "FOI-2026-7", "reason": "FOI request"}
    refused = client.post("/api/retention/holds/records", json=body, headers=actors.staff)
    assert_problem(refused, 403)
    held = client.post("/api/retention/holds/records", json=body, headers=actors.records_manager)
    assert held.status_code == 201
    assert sorted(h["record_id"] for h in held.json()) == sorted(ids)
    assert _subjects(services, "hold.place") == sorted(f"record:{i}" for i in ids)
    too_many = {**body, "record_ids": [f"{n:032x}" for n in range(201)]}
    response = client.post("/api/retention/holds/records", json=too_many, headers=actors.admin)
    assert response.status_code == 422
