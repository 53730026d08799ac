"""A small period with exact numbers for the Panel's report, built through the real API.

The test clock stands at 2026-06-15; the report's period is 2025-04-01 to 2026-06-30,
so money and completeness are as at 2026-06-15.

- ``GRANT-PR1``: a £10,000 grant awarded 2025-04-02 by a decision, varied by £1,000,
  paid £11,500 (overpaid by £500); £4,000 spent and 40 people supported reported for
  April to June 2025; three quarters' monitoring returns missing, the first of them
  (July to September 2025) a known gap: lost, reported by the provider.
- ``SVC-PR2``: a £50,000 contract awarded 2025-04-20 with no decision record, paid
  £12,500 in May 2026; only its specification on file.
- ``OLD-PR3``: a contract of 2016 to 2019 (outside the period) whose specification is
  disposed of on 2026-06-15, after the retention job proposes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi.testclient import TestClient

from factories import Actors
from finance.money import pay, post, report_spend
from records_service.audit.checkpoint import Checkpoint
from records_service.audit.keys import trusted_keys
from records_service.audit.writer import prepare_audit, writer_for
from records_service.reports.lines import Period
from records_service.runtime.services import Services
from retention.casefiles import (
    add_contract,
    add_file,
    add_record,
    approve_the_proposal,
    closed_2019,
)

PERIOD = Period(start=date(2025, 4, 1), end=date(2026, 6, 30))


@dataclass(frozen=True)
class Built:
    """What the scenario made: record ids the report names, and the checkpoint signed."""

    decision: str
    disposed: str
    known_gap: int
    checkpoint: Checkpoint
    verifier_key: str


def _grant(client: TestClient, staff: dict[str, str]) -> str:
    add_contract(
        client,
        staff,
        "GRANT-PR1",
        title="Victim support grant",
        provider="Safe Haven Trust",
        funding_stream="MoJ Victims Grant",
        awarded_value_pence=1_000_000,
        status="active",
        start_date="2025-04-01",
        end_date="2026-03-31",
    )
    ids = add_file(
        client,
        staff,
        "GRANT-PR1",
        {
            "needs_assessment": "2025-03-01",
            "specification": "2025-03-10",
            "decision_record": "2025-04-02",
            "grant_agreement": "2025-04-05",
            "monitoring_return": "2025-07-10",
            "contract_variation": "2025-10-01",
        },
    )
    base = "/api/contracts/GRANT-PR1"
    award = {"kind": "grant", "awarded_on": "2025-04-02", "decision_record": ids["decision_record"]}
    post(client, staff, f"{base}/award", award)
    variation = {
        "decided_on": "2025-10-01",
        "change_pence": 100_000,
        "record": ids["contract_variation"],
        "reason": "extra sessions",
    }
    post(client, staff, f"{base}/variations", variation)
    pay(client, staff, "GRANT-PR1", "PAY-A1", "2025-04-10", 600_000)
    pay(client, staff, "GRANT-PR1", "PAY-A2", "2025-10-10", 550_000)
    quarter = ("2025-04-01", "2025-06-30")
    report_spend(
        client, staff, "GRANT-PR1", quarter, 400_000, ids["monitoring_return"], people_supported=40
    )
    return ids["decision_record"]


def _contract(client: TestClient, staff: dict[str, str]) -> None:
    add_contract(
        client,
        staff,
        "SVC-PR2",
        title="Youth diversion service",
        provider="Northside Youth Trust",
        funding_stream="PCC Community Safety Fund",
        awarded_value_pence=5_000_000,
        status="active",
        start_date="2025-05-01",
        end_date="2027-04-30",
    )
    add_record(client, staff, "SVC-PR2", "specification", "2025-03-20")
    post(
        client,
        staff,
        "/api/contracts/SVC-PR2/award",
        {"kind": "contract", "awarded_on": "2025-04-20"},
    )
    pay(client, staff, "SVC-PR2", "PAY-B1", "2026-05-01", 1_250_000)


def _dispose(client: TestClient, actors: Actors, services: Services) -> str:
    spec = closed_2019(client, actors.staff, "OLD-PR3")["specification"]
    response = client.post("/api/retention/run", json={}, headers=actors.admin)
    assert response.status_code == 200, response.text
    approve_the_proposal(client, actors.records_manager, spec)
    return spec


def _known_gap(client: TestClient, actors: Actors) -> int:
    gap = {
        "record_type": "monitoring_return",
        "period_start": "2025-07-01",
        "period_end": "2025-09-30",
        "reason": "lost",
        "evidence": "the provider's covering e-mail of 2025-10-12",
        "reported_by": "Safe Haven Trust",
    }
    response = client.post(
        "/api/contracts/GRANT-PR1/gaps", json=gap, headers=actors.records_manager
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def build(client: TestClient, actors: Actors, services: Services) -> Built:
    """The whole scenario, the retention job's findings, and a signed checkpoint."""
    decision = _grant(client, actors.staff)
    known_gap = _known_gap(client, actors)
    _contract(client, actors.staff)
    disposed = _dispose(client, actors, services)
    list(prepare_audit(services.settings, services.store))  # the signing key, as init
    writer = writer_for(
        services.settings, engine=services.engine, store=services.store, clock=services.clock
    )
    signed = writer.publish()
    assert signed is not None
    [key] = trusted_keys(services.settings)
    point = Checkpoint("", signed.tree_size, signed.root_hash)
    return Built(decision, disposed, known_gap, point, key)
