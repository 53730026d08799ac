"""Content missing from the store: text extraction records the version as failed, once,
and a ``fixity_failure`` finding says the object is missing (it used to retry for ever)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract
from records_service.records.text import extract_pending
from records_service.runtime.services import Services


def test_missing_content_fails_extraction_once_with_a_finding(
    client: TestClient, services: Services, actors: Actors
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    record = capture(client, actors.staff).json()
    key = f"records/{record['id']}/v1"
    services.store.delete(key)
    services.run_background_once()
    [version] = client.get(f"/api/records/{record['id']}", headers=actors.staff).json()["versions"]
    assert (version["text_status"], version["text_reason"]) == (
        "failed",
        "the content is missing from the store",
    )
    assert extract_pending(services.engine, services.store) == 0  # not tried again
    found = client.get(
        "/api/retention/findings", params={"kind": "fixity_failure"}, headers=actors.auditor
    ).json()["items"]
    assert [(f["key"], f["record_id"], f["contract"]) for f in found] == [
        (f"fixity_failure:{key}", record["id"], "OPCC-2023-014")
    ]
    assert "stored object is missing" in found[0]["summary"]
