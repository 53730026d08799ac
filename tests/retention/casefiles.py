"""Builders for retention scenarios: contracts with their files, runs and finding look-ups.

Everything goes through the real API. The test clock stands at 2026-06-15.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from factories import capture, create_contract

TODAY = date(2026, 6, 15)

# A complete file for a contract let in 2016 and closed in 2019: every rule satisfied,
# and every record's retention (6 years from the 2019 end) over by 2026.
CLOSED_2016 = {
    "needs_assessment": "2016-01-10",
    "specification": "2016-01-20",
    "invitation_to_tender": "2016-02-01",
    "decision_record": "2016-03-01",
    "contract": "2016-03-15",
    "monitoring_return": "2017-07-15",
    "closure_report": "2019-05-20",
}
DESTROY = ("specification", "invitation_to_tender", "monitoring_return")
REVIEW = ("needs_assessment", "contract", "closure_report")


def add_contract(
    client: TestClient, headers: dict[str, str], reference: str, **fields: Any
) -> None:
    """Create a contract; fields override the factory's defaults."""
    response = create_contract(client, headers, reference=reference, **fields)
    assert response.status_code == 201, response.text


def add_record(
    client: TestClient,
    headers: dict[str, str],
    contract: str | None,
    record_type: str,
    record_date: str,
    *,
    content: bytes | None = None,
) -> str:
    """Capture one record on ``contract``'s file and return its id."""
    body = content or f"{record_type} for {contract} dated {record_date}\n".encode()
    response = capture(
        client,
        headers,
        content=body,
        filename=f"{record_type}.txt",
        title=f"{record_type} {contract}",
        record_type=record_type,
        contract=contract,
        record_date=record_date,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def add_file(
    client: TestClient,
    headers: dict[str, str],
    contract: str,
    records: dict[str, str],
) -> dict[str, str]:
    """Capture one record per type (type -> record date); returns record ids by type."""
    return {
        record_type: add_record(client, headers, contract, record_type, day)
        for record_type, day in records.items()
    }


def closed_2019(client: TestClient, headers: dict[str, str], reference: str) -> dict[str, str]:
    """A closed contract (2016-2019) with the complete ``CLOSED_2016`` file; ids by type."""
    add_contract(
        client,
        headers,
        reference,
        status="closed",
        start_date="2016-04-01",
        end_date="2019-03-31",
        closed_on="2019-04-30",
    )
    return add_file(client, headers, reference, CLOSED_2016)


def run_job(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """Run the retention job through the API and return its report."""
    response = client.post("/api/retention/run", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def findings(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every finding matching ``params`` (all pages)."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.get(
            "/api/retention/findings",
            params={**params, "page": page, "page_size": 200},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items
        page += 1


def keys(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(kind, key) of each finding."""
    return {(item["kind"], item["key"]) for item in items}


def dispositions(
    client: TestClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """The first page of dispositions matching ``params``."""
    response = client.get(
        "/api/retention/dispositions", params={**params, "page_size": 200}, headers=headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def approve_the_proposal(
    client: TestClient,
    headers: dict[str, str],
    record_id: str,
    *,
    lister: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Approve the one disposition proposed for ``record_id`` (listed as ``lister``, by
    default the approver) and check that it was carried out; returns the answer."""
    [proposal] = dispositions(client, lister or headers, record_id=record_id)
    approved = client.post(
        f"/api/retention/dispositions/{proposal['id']}/approve",
        json={"reason": "retention over"},
        headers=headers,
    )
    assert approved.json()["status"] == "executed", approved.text
    return dict(approved.json())
