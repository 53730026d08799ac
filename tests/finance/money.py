"""Builders for money scenarios: entries on a contract through the real API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    """POST (or PUT, for the award) a money entry and return the created entry."""
    method = client.put if path.endswith("/award") else client.post
    response = method(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def pay(
    client: TestClient,
    headers: dict[str, str],
    contract: str,
    reference: str,
    paid_on: str,
    amount_pence: int,
    **extra: Any,
) -> Any:
    """Record one payment."""
    body = {"payment_reference": reference, "paid_on": paid_on, "amount_pence": amount_pence}
    return post(client, headers, f"/api/contracts/{contract}/payments", body | extra)


def report_spend(
    client: TestClient,
    headers: dict[str, str],
    contract: str,
    period: tuple[str, str],
    spent_pence: int | None,
    return_record: str | None = None,
    **outcomes: int,
) -> Any:
    """Record one spend report for ``period`` (start, end)."""
    body = {
        "period_start": period[0],
        "period_end": period[1],
        "spent_pence": spent_pence,
        "outcomes": {name.replace("_", " "): n for name, n in outcomes.items()},
        "return_record": return_record,
    }
    return post(client, headers, f"/api/contracts/{contract}/spend", body)


def money(client: TestClient, headers: dict[str, str], contract: str, **params: Any) -> Any:
    """The contract's money summary and award."""
    response = client.get(f"/api/contracts/{contract}/money", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
