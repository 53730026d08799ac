"""Capture, download, versions and metadata edits through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlmodel import col, select

from factories import Actors, FixedClock, capture, create_contract
from records_service.db import read_scope
from records_service.records.models import Version
from records_service.runtime.services import Services


def _ready(client: TestClient, actors: Actors) -> None:
    assert create_contract(client, actors.staff).status_code == 201


def test_capture_returns_record_with_location_and_hash(client: TestClient, actors: Actors) -> None:
    _ready(client, actors)
    content = b"Needs assessment: demand for the helpline rose 40% in 2022.\n"
    response = capture(client, actors.staff, content=content)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/records/{body['id']}"
    assert body["contract"] == "OPCC-2023-014"
    assert body["tags"] == ["helpline", "victims"]
    assert body["captured_by"] == "sam"
    [version] = body["versions"]
    assert version["number"] == 1
    assert version["sha256"] == hashlib.sha256(content).hexdigest()
    assert version["size"] == len(content)
    assert version["media_type"] == "text/plain"
    assert version["text_status"] == "pending"


def test_capture_response_is_the_record_as_read_back(client: TestClient, actors: Actors) -> None:
    # The 201 body is built from the rows the capture wrote, not read back: it must
    # say exactly what a read says, tags normalised and sorted included.
    _ready(client, actors)
    response = capture(client, actors.staff, tags=["Victims, helpline", "audit", "victims"])
    assert response.status_code == 201, response.text
    read = client.get(response.headers["location"], headers=actors.staff)
    assert read.status_code == 200
    assert response.json() == read.json()
    assert response.json()["tags"] == ["audit", "helpline", "victims"]


def test_download_is_byte_identical_with_etag(client: TestClient, actors: Actors) -> None:
    _ready(client, actors)
    content = bytes(range(256)) * 4000
    record = capture(client, actors.staff, content=content, filename="data.bin").json()
    response = client.get(f"/api/records/{record['id']}/content", headers=actors.reviewer)
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["etag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["content-disposition"].startswith('attachment; filename="data.bin"')


def test_content_disposition_is_safe_for_unicode_and_quotes(
    client: TestClient, actors: Actors
) -> None:
    _ready(client, actors)
    record = capture(client, actors.staff, filename="Réponse; été.txt").json()
    response = client.get(f"/api/records/{record['id']}/content", headers=actors.staff)
    disposition = response.headers["content-disposition"]
    assert 'filename="R_ponse_ _t_.txt"' in disposition
    assert "filename*=UTF-8''R%C3%A9ponse%3B%20%C3%A9t%C3%A9.txt" in disposition


def test_new_version_keeps_the_old_one(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _ready(client, actors)
    record = capture(client, actors.staff, content=b"first draft of the specification").json()
    response = client.post(
        f"/api/records/{record['id']}/versions",
        files={"file": ("spec-v2.txt", b"second, signed specification", "text/plain")},
        headers=actors.staff,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["current_version"] == 2
    assert [v["number"] for v in body["versions"]] == [1, 2]
    old = client.get(f"/api/records/{record['id']}/content?version=1", headers=actors.staff)
    new = client.get(f"/api/records/{record['id']}/content", headers=actors.staff)
    assert old.content == b"first draft of the specification"
    assert new.content == b"second, signed specification"
    first, second = _storage_keys(services, record["id"])
    assert first == f"records/{record['id']}/v1"
    assert second.startswith(f"records/{record['id']}/v2-")
    assert services.store.exists(first) and services.store.exists(second)
    # Sidecars are the background worker's, written after the capture commits.
    assert not services.store.exists(f"{second}.json")
    services.run_background_once()
    assert services.store.exists(f"{first}.json")
    assert services.store.exists(f"{second}.json")


def _storage_keys(services: Services, record_id: str) -> list[str]:
    with read_scope(services.engine) as session:
        statement = select(Version.storage_key).where(Version.record_id == record_id)
        return list(session.exec(statement.order_by(col(Version.number))))


def test_missing_version_is_404(client: TestClient, actors: Actors) -> None:
    _ready(client, actors)
    record = capture(client, actors.staff).json()
    response = client.get(f"/api/records/{record['id']}/content?version=9", headers=actors.staff)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_metadata_edit_keeps_history(client: TestClient, actors: Actors, clock: FixedClock) -> None:
    _ready(client, actors)
    record = capture(client, actors.staff).json()
    clock.advance(hours=1)
    response = client.patch(
        f"/api/records/{record['id']}",
        json={
            "title": "Needs assessment (final)",
            "tags": ["Final", "victims"],
            "reason": "signed off",
        },
        headers=actors.staff,
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Needs assessment (final)"
    assert response.json()["tags"] == ["final", "victims"]
    changes = client.get(f"/api/records/{record['id']}/changes", headers=actors.reviewer).json()
    by_field = {c["field"]: c for c in changes}
    assert by_field["title"]["old_value"] == "Needs assessment 2023"
    assert by_field["title"]["new_value"] == "Needs assessment (final)"
    assert by_field["tags"]["old_value"] == ["helpline", "victims"]
    assert by_field["title"]["reason"] == "signed off"
    assert by_field["title"]["changed_by"] == "sam"


def test_metadata_edit_requires_reason(client: TestClient, actors: Actors) -> None:
    _ready(client, actors)
    record = capture(client, actors.staff).json()
    response = client.patch(
        f"/api/records/{record['id']}", json={"title": "x"}, headers=actors.staff
    )
    assert response.status_code == 422
    assert "reason" in response.json()["detail"]


def test_list_filters_and_paginates(client: TestClient, actors: Actors) -> None:
    _ready(client, actors)
    assert create_contract(client, actors.staff, reference="OPCC-2024-002").status_code == 201
    for day in range(1, 6):
        capture(
            client,
            actors.staff,
            record_date=f"2024-01-0{day}",
            title=f"Return {day}",
            record_type="monitoring_return",
        )
    capture(client, actors.staff, contract="OPCC-2024-002", record_type="specification")
    page = client.get(
        "/api/records?contract=OPCC-2023-014&record_type=monitoring_return&page_size=2&page=2",
        headers=actors.staff,
    ).json()
    assert page["total"] == 5
    assert [r["title"] for r in page["items"]] == ["Return 3", "Return 2"]
    other = client.get("/api/records?contract=OPCC-2024-002", headers=actors.staff).json()
    assert other["total"] == 1
    tagged = client.get("/api/records?tag=VICTIMS&date_from=2024-01-04", headers=actors.staff)
    assert tagged.json()["total"] == 2


def test_sensitive_records_hidden_from_other_staff(client: TestClient, actors: Actors) -> None:
    _ready(client, actors)
    record = capture(client, actors.staff, classification="OFFICIAL-SENSITIVE").json()
    assert client.get(f"/api/records/{record['id']}", headers=actors.staff).status_code == 200
    assert client.get(f"/api/records/{record['id']}", headers=actors.reviewer).status_code == 200
    assert client.get(f"/api/records/{record['id']}", headers=actors.staff2).status_code == 404
    hidden = client.get(f"/api/records/{record['id']}/content", headers=actors.staff2)
    assert hidden.status_code == 404
    assert client.get("/api/records", headers=actors.staff2).json()["total"] == 0
    assert client.get("/api/records", headers=actors.auditor).json()["total"] == 1
