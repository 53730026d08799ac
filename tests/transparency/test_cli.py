"""``records-service transparency register`` and ``publish`` on a real database."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from factories import Actors
from finance.test_import_cli import cli
from records_service.settings import Settings
from retention.casefiles import add_contract, add_record


def test_register_and_publish_from_the_command_line(
    client: TestClient, actors: Actors, settings: Settings
) -> None:
    add_contract(
        client, actors.staff, "CLI-001", awarded_value_pence=2_000_000, start_date="2025-01-01"
    )
    signed = add_record(client, actors.staff, "CLI-001", "contract", "2025-01-05")
    award = client.put(
        "/api/contracts/CLI-001/award", json={"awarded_on": "2025-01-01"}, headers=actors.staff
    )
    assert award.status_code == 200, award.text
    listed = cli(settings, "transparency", "register", "--as-at", "2025-03-01")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "register as at 2025-03-01: 1 items",
        "overdue\tcontract:CLI-001\tDomestic abuse helpline (contract over £10,000.00)\t"
        "publish by 2025-01-31",
    ]
    publish = (
        *("transparency", "publish", "contract:CLI-001"),
        *("--on", "2025-02-03", "--location", "https://pcc.example/c/1"),
    )
    published = cli(settings, *publish, "--copy", signed)
    assert published.exit_code == 0, published.output
    again = cli(settings, *publish)
    assert again.exit_code == 1 and "already recorded as published on 2025-02-03" in again.output
    body = json.loads(
        cli(
            settings, "transparency", "register", "--format", "json", "--as-at", "2025-03-01"
        ).output
    )
    [item] = body["items"]
    assert (body["as_at"], item["state"], item["copy_record"], item["copy_held"]) == (
        "2025-03-01",
        "published",
        signed,
        True,
    )
