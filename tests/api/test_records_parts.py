"""The API's record view names the "part of" relation both ways: an attachment's
message (``part_of``) and a message's attachments (``parts``), as far as the caller may
see them, in the record view, the list and the edit's answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract
from records_service.runtime.services import Services

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _record(client: TestClient, headers: dict[str, str], record_id: str) -> dict[str, Any]:
    response = client.get(f"/api/records/{record_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_message_and_its_attachment_name_each_other(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    eml = (FIXTURES / "helpline-referral.eml").read_bytes()
    created = capture(client, actors.staff, content=eml, filename="referral.eml", title="Referral")
    message = created.json()
    # Captured, its attachments not yet taken (the background does that).
    assert (message["part_of"], message["parts"]) == (None, [])
    services.run_background_once()

    whole = _record(client, actors.staff, message["id"])
    assert whole["part_of"] is None
    assert [part["title"] for part in whole["parts"]] == ["helpline-q1-report.pdf"]
    part_id = whole["parts"][0]["id"]
    part = _record(client, actors.staff, part_id)
    assert part["part_of"] == {"id": message["id"], "title": "Referral"}
    assert part["parts"] == []

    listed = client.get("/api/records", headers=actors.staff).json()["items"]
    links = {item["id"]: (item["part_of"], item["parts"]) for item in listed}
    assert links == {
        message["id"]: (None, [{"id": part_id, "title": "helpline-q1-report.pdf"}]),
        part_id: ({"id": message["id"], "title": "Referral"}, []),
    }

    # An attachment made sensitive is left out for those who may not see it.
    edited = client.patch(
        f"/api/records/{part_id}",
        json={"classification": "OFFICIAL-SENSITIVE", "reason": "names a victim"},
        headers=actors.staff,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["part_of"] == {"id": message["id"], "title": "Referral"}
    assert _record(client, actors.staff2, message["id"])["parts"] == []
    assert [p["id"] for p in _record(client, actors.reviewer, message["id"])["parts"]] == [part_id]

    # Documented in the API's schema.
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    fields = schema["RecordPublic"]["properties"]
    assert "attachment" in fields["part_of"]["description"]
    assert "attachments" in fields["parts"]["description"]
    assert set(schema["RecordLink"]["properties"]) == {"id", "title"}
