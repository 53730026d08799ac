"""Money and publication scenarios with exact numbers: real app, fixed clock
(2026-06-15), SQLite and PostgreSQL.

Each scenario builds a case file through the API, records its money or publications,
runs the retention job and asserts the findings of the new kinds, numbers and all.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from factories import Actors
from finance.money import money, pay, post, report_spend
from retention.casefiles import add_contract, add_record, findings, run_job

Q1 = ("2025-04-01", "2025-06-30")
Q2 = ("2025-07-01", "2025-09-30")


def _open(client: TestClient, actors: Actors, kind: str) -> list[dict[str, Any]]:
    return findings(client, actors.records_manager, kind=kind)


def test_an_overpaid_grant(client: TestClient, actors: Actors) -> None:
    staff = actors.staff
    add_contract(
        client,
        staff,
        "GRANT-001",
        awarded_value_pence=1_000_000,
        status="active",
        start_date="2025-04-01",
        end_date="2026-03-31",
    )
    decision = add_record(client, staff, "GRANT-001", "decision_record", "2025-03-15")
    variation = add_record(client, staff, "GRANT-001", "contract_variation", "2025-10-01")
    base = "/api/contracts/GRANT-001"
    post(
        client,
        staff,
        f"{base}/award",
        {"kind": "grant", "awarded_on": "2025-03-15", "decision_record": decision},
    )
    post(
        client,
        staff,
        f"{base}/variations",
        {
            "decided_on": "2025-10-01",
            "change_pence": 100_000,
            "record": variation,
            "reason": "extra sessions",
        },
    )
    pay(client, staff, "GRANT-001", "PAY-1", "2025-04-10", 600_000)
    pay(client, staff, "GRANT-001", "PAY-2", "2025-10-10", 550_000)
    summary = money(client, staff, "GRANT-001")["summary"]
    assert (summary["award_pence"], summary["variations_pence"], summary["value_pence"]) == (
        1_000_000,
        100_000,
        1_100_000,
    )
    assert summary["paid_pence"] == 1_150_000
    run_job(client, actors.records_manager)
    [finding] = _open(client, actors, "overpaid")
    assert finding["summary"] == (
        "GRANT-001: paid £11,500.00 against a value of £11,000.00 (award £10,000.00, "
        "variations £1,000.00): overpaid by £500.00"
    )
    assert finding["details"] == {
        "award_pence": 1_000_000,
        "variations_pence": 100_000,
        "value_pence": 1_100_000,
        "paid_pence": 1_150_000,
        "recovered_pence": 0,
        "overpaid_pence": 50_000,
        "tolerance_pence": 0,
    }
    # Neither payment has an invoice on file, and both are past the 30 days' grace.
    missing = {
        f["details"]["payment_reference"] for f in _open(client, actors, "payment_without_invoice")
    }
    assert missing == {"PAY-1", "PAY-2"}


def test_spend_behind_profile(client: TestClient, actors: Actors) -> None:
    staff = actors.staff
    add_contract(
        client,
        staff,
        "SBP-001",
        awarded_value_pence=4_000_000,
        status="active",
        start_date="2025-04-01",
        end_date="2027-03-31",
    )
    first = add_record(client, staff, "SBP-001", "monitoring_return", "2025-07-10")
    second = add_record(client, staff, "SBP-001", "monitoring_return", "2025-10-10")
    unreported = add_record(client, staff, "SBP-001", "monitoring_return", "2026-01-10")
    pay(client, staff, "SBP-001", "SBP-P1", "2025-04-01", 1_000_000)
    pay(client, staff, "SBP-001", "SBP-P2", "2025-07-01", 1_000_000)
    pay(client, staff, "SBP-001", "SBP-P3", "2025-10-01", 1_000_000)  # after the last period
    report_spend(client, staff, "SBP-001", Q1, 400_000, first, people_supported=40)
    report_spend(client, staff, "SBP-001", Q2, 600_000, second, people_supported=55)
    report_spend(
        client,
        staff,
        "SBP-001",
        ("2025-10-01", "2025-12-31"),
        None,
        unreported,
        people_supported=61,
    )
    run_job(client, actors.records_manager)
    [finding] = _open(client, actors, "spend_behind_profile")
    assert finding["details"] == {
        "period_end": "2025-09-30",
        "paid_pence": 2_000_000,
        "reported_spent_pence": 1_000_000,
        "lag_pence": 1_000_000,
        "lag_percent": 50,
        "allowed_pence": 500_000,
        "threshold_percent": 25,
        "threshold_min_pence": 100_000,
    }
    assert finding["summary"] == (
        "SBP-001: reported spend £10,000.00 to 2025-09-30 lags payments of £20,000.00 by "
        "then by £10,000.00 (50%; allowed £5,000.00)"
    )
    # The third return gave outcomes but no spend figure.
    [unreported_finding] = _open(client, actors, "spend_unreported")
    assert unreported_finding["record_id"] == unreported
    assert unreported_finding["details"] == {"record_id": unreported, "record_date": "2026-01-10"}


def test_underspend_at_closure_then_a_recorded_recovery(client: TestClient, actors: Actors) -> None:
    staff = actors.staff
    add_contract(
        client,
        staff,
        "UND-001",
        awarded_value_pence=2_000_000,
        status="closed",
        start_date="2025-04-01",
        end_date="2026-03-31",
        closed_on="2026-04-30",
    )
    pay(client, staff, "UND-001", "UND-P1", "2025-04-01", 2_000_000)
    report_spend(client, staff, "UND-001", ("2025-04-01", "2026-03-31"), 1_750_000)
    run_job(client, actors.records_manager)
    [finding] = _open(client, actors, "unspent_at_closure")
    assert finding["details"] == {
        "status": "closed",
        "paid_pence": 2_000_000,
        "reported_spent_pence": 1_750_000,
        "recovered_pence": 0,
        "unspent_pence": 250_000,
        "tolerance_pence": 0,
    }
    assert finding["summary"] == (
        "UND-001: closed with £2,500.00 unspent (paid £20,000.00, reported spent £17,500.00, "
        "recovered £0.00); no recovery recorded for it"
    )
    decision = add_record(client, staff, "UND-001", "decision_record", "2026-05-20")
    post(
        client,
        staff,
        "/api/contracts/UND-001/recoveries",
        {
            "recovered_on": "2026-06-01",
            "amount_pence": 250_000,
            "decision_record": decision,
            "reason": "unspent grant returned",
        },
    )
    assert money(client, staff, "UND-001")["summary"]["unspent_pence"] == 0
    run_job(client, actors.records_manager)
    assert _open(client, actors, "unspent_at_closure") == []
    [resolved] = findings(
        client, actors.records_manager, kind="unspent_at_closure", state="resolved"
    )
    assert resolved["key"] == finding["key"] and resolved["resolved_at"] is not None
