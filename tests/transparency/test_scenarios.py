"""Transparency register scenarios with exact dates: real app, fixed clock (2026-06-15),
SQLite and PostgreSQL.

A contract over £10,000 not published on time becomes ``publication_overdue``; a
decision of significant public interest published with its copy leaves nothing open;
one published with no copy held is ``published_copy_missing``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from factories import Actors, capture
from finance.money import post
from retention.casefiles import add_contract, add_record, findings, run_job

SPI = "significant-public-interest"


def _register(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/transparency/register", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _decision(client: TestClient, headers: dict[str, str], contract: str, day: str) -> str:
    response = capture(
        client,
        headers,
        title="Decision 2026/07: helpline recommissioned",
        record_type="decision_record",
        contract=contract,
        record_date=day,
        tags=f"{SPI},helpline",
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_contract_over_10000_not_published_on_time(client: TestClient, actors: Actors) -> None:
    staff = actors.staff
    add_contract(
        client,
        staff,
        "PUB-001",
        awarded_value_pence=4_500_000,
        status="active",
        start_date="2026-04-01",
        end_date="2027-03-31",
    )
    add_contract(
        client,
        staff,
        "SMALL-001",
        awarded_value_pence=1_000_000,
        status="active",
        start_date="2026-04-01",
        end_date="2027-03-31",
    )
    post(client, staff, "/api/contracts/PUB-001/award", {"awarded_on": "2026-04-01"})
    [item] = _register(client, staff)  # £10,000 exactly is not over £10,000
    assert (item["item"], item["state"], item["due_from"], item["publish_by"]) == (
        "contract:PUB-001",
        "overdue",
        "2026-04-01",
        "2026-05-01",
    )
    assert (item["value_pence"], item["value"], item["days_overdue"]) == (
        4_500_000,
        "£45,000.00",
        45,
    )
    run_job(client, actors.records_manager)
    [finding] = findings(client, actors.records_manager, kind="publication_overdue")
    assert finding["summary"] == (
        "Domestic abuse helpline (contract over £10,000.00): not published; due within 30 "
        "days of 2026-04-01, by 2026-05-01: 45 days overdue"
    )
    assert finding["details"]["days_overdue"] == 45 and finding["contract"] == "PUB-001"
    # As at 2026-05-01 it was not yet overdue.
    [earlier] = _register(client, staff, as_at="2026-05-01")
    assert earlier["state"] == "due"
    export = client.get(
        "/api/transparency/register/export", params={"as_at": "2026-06-15"}, headers=staff
    )
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["as_at"], r["item"], r["state"], r["value_pence"]) for r in rows] == [
        ("2026-06-15", "contract:PUB-001", "overdue", "4500000")
    ]


def test_a_decision_of_significant_public_interest_published(
    client: TestClient, actors: Actors
) -> None:
    staff = actors.staff
    add_contract(
        client,
        staff,
        "DEC-001",
        awarded_value_pence=900_000,
        status="active",
        start_date="2026-04-01",
        end_date="2027-03-31",
    )
    decision = _decision(client, staff, "DEC-001", "2026-05-20")
    plain = add_record(client, staff, "DEC-001", "decision_record", "2026-05-21")  # not tagged
    [item] = _register(client, staff)
    assert (item["item"], item["record"], item["state"], item["publish_by"]) == (
        f"decision:{decision}",
        decision,
        "due",
        "2026-06-19",
    )
    body = {
        "item": f"decision:{decision}",
        "published_on": "2026-06-01",
        "location": "https://pcc.example.gov.uk/decisions/2026-07",
        "copy_record": decision,
    }
    published = post(client, staff, "/api/transparency/publications", body)
    assert (published["published_on"], published["copy_record_id"]) == ("2026-06-01", decision)
    again = client.post("/api/transparency/publications", json=body, headers=staff)
    assert again.status_code == 409
    [item] = _register(client, staff)
    assert (item["state"], item["published_on"], item["location"], item["copy_held"]) == (
        "published",
        "2026-06-01",
        "https://pcc.example.gov.uk/decisions/2026-07",
        True,
    )
    assert plain not in {i["record"] for i in _register(client, staff)}
    export = client.get(
        "/api/transparency/register/export", params={"format": "json"}, headers=staff
    ).json()
    assert export["as_at"] == "2026-06-15" and export["items"][0]["state"] == "published"
    run_job(client, actors.records_manager)
    assert findings(client, actors.records_manager, kind="publication_overdue") == []
    assert findings(client, actors.records_manager, kind="published_copy_missing") == []


def test_a_publication_with_no_copy_held(client: TestClient, actors: Actors) -> None:
    staff = actors.staff
    add_contract(
        client,
        staff,
        "NOCOPY-001",
        awarded_value_pence=2_000_000,
        status="active",
        start_date="2026-05-01",
        end_date="2027-03-31",
    )
    post(client, staff, "/api/contracts/NOCOPY-001/award", {"awarded_on": "2026-05-01"})
    body = {
        "item": "contract:NOCOPY-001",
        "published_on": "2026-05-10",
        "location": "Contracts register, page 4",
    }
    post(client, staff, "/api/transparency/publications", body)
    run_job(client, actors.records_manager)
    [finding] = findings(client, actors.records_manager, kind="published_copy_missing")
    assert finding["summary"] == (
        "Domestic abuse helpline (contract over £10,000.00): published 2026-05-10 at "
        "Contracts register, page 4, but no copy is on file"
    )
