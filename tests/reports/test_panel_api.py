"""The Panel's report made through the API, on SQLite and PostgreSQL: who may make it,
a bad period refused with nothing captured, and each report made kept as a
``panel_report`` record whose id, links and size the answer gives, listed and read
through the record routes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from factories import Actors
from finance.money import pay, post
from retention.casefiles import add_contract

PERIOD = {"from": "2025-04-01", "to": "2026-03-31"}


def _made_reports(client: TestClient, actors: Actors) -> list[dict[str, Any]]:
    listed = client.get(
        "/api/records", params={"record_type": "panel_report"}, headers=actors.auditor
    )
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def _a_grant(client: TestClient, actors: Actors) -> None:
    add_contract(
        client,
        actors.staff,
        "GRANT-API1",
        title="Victim support grant",
        provider="Safe Haven Trust",
        awarded_value_pence=1_000_000,
        status="active",
        start_date="2025-04-01",
        end_date="2026-03-31",
    )
    post(
        client,
        actors.staff,
        "/api/contracts/GRANT-API1/award",
        {"kind": "grant", "awarded_on": "2025-04-02"},
    )
    pay(client, actors.staff, "GRANT-API1", "PAY-API1", "2025-05-01", 250_000)


def _refusals(client: TestClient, actors: Actors) -> None:
    url = "/api/reports/panel"
    for who in (actors.auditor, actors.staff, actors.reviewer):
        assert client.post(url, json=PERIOD, headers=who).status_code == 403
    backwards = client.post(url, json={**PERIOD, "to": "2025-03-31"}, headers=actors.admin)
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    assert "after it ends on 2025-03-31" in backwards.json()["detail"]
    too_early = client.post(url, json={**PERIOD, "from": "1066-10-14"}, headers=actors.admin)
    assert too_early.status_code == 422
    other = client.post(url, json={**PERIOD, "format": "docx"}, headers=actors.admin)
    assert other.status_code == 422
    assert _made_reports(client, actors) == []


def test_the_report_made_by_api_is_kept_as_a_record(client: TestClient, actors: Actors) -> None:
    _a_grant(client, actors)
    _refusals(client, actors)
    made = client.post(
        "/api/reports/panel", json={**PERIOD, "format": "html"}, headers=actors.records_manager
    )
    assert made.status_code == 201, made.text
    body = made.json()
    record_id = body["record_id"]
    assert made.headers["location"] == f"/api/records/{record_id}"
    assert body["links"] == {
        "record": f"/api/records/{record_id}",
        "content": f"/api/records/{record_id}/content",
    }
    assert (body["title"], body["from"], body["to"], body["format"]) == (
        "Panel's report, 2025-04-01 to 2026-03-31",
        "2025-04-01",
        "2026-03-31",
        "html",
    )
    content = client.get(body["links"]["content"], headers=actors.auditor)
    assert content.status_code == 200
    assert len(content.content) == body["size"]
    html = content.text
    assert html.startswith("<!DOCTYPE html>")
    assert "GRANT-API1" in html and "Safe Haven Trust" in html and "£2,500.00" in html
    record = client.get(body["links"]["record"], headers=actors.auditor).json()
    assert (record["record_type"], record["title"], record["captured_by"]) == (
        "panel_report",
        body["title"],
        "rob",
    )
    pdf = client.post("/api/reports/panel", json=PERIOD, headers=actors.admin)
    assert pdf.status_code == 201, pdf.text
    assert (pdf.json()["format"], pdf.json()["media_type"]) == ("pdf", "application/pdf")
    pdf_bytes = client.get(pdf.json()["links"]["content"], headers=actors.auditor).content
    assert pdf_bytes.startswith(b"%PDF-") and len(pdf_bytes) == pdf.json()["size"]
    listed = {item["id"] for item in _made_reports(client, actors)}
    assert listed == {record_id, pdf.json()["record_id"]}
