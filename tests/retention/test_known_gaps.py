"""The register of known gaps through the API, on SQLite and PostgreSQL: recorded and
closed by records managers (audited), refused with clear problems, and told apart from
unexplained gaps by the retention findings and their CSV export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from factories import Actors, assert_problem
from records_service.audit.models import AuditEntry
from records_service.runtime.services import Services

from .casefiles import add_contract, add_file, add_record, findings, run_job

REF = "OPCC-2025-003"
ON_FILE = {
    "needs_assessment": "2025-06-01",
    "specification": "2025-06-15",
    "invitation_to_tender": "2025-07-01",
    "decision_record": "2025-08-05",
    "contract": "2025-09-10",
}
LOST_Q4 = {
    "record_type": "monitoring_return",
    "period_start": "2025-10-01",
    "period_end": "2025-12-31",
    "reason": "lost",
    "evidence": "Provider's covering e-mail of 14 Jan 2026 names the Q3 return; not on the drive.",
    "reported_by": "Pat Jones, contract manager",
}


def _contract(client: TestClient, actors: Actors) -> None:
    add_contract(
        client,
        actors.staff,
        REF,
        status="active",
        start_date="2025-10-01",
        end_date="2027-09-30",
    )
    add_file(client, actors.staff, REF, ON_FILE)


def _record_gap(client: TestClient, headers: dict[str, str], **overrides: Any) -> Any:
    return client.post(f"/api/contracts/{REF}/gaps", json={**LOST_Q4, **overrides}, headers=headers)


def _gap_entries(services: Services) -> list[tuple[str, str, str, dict[str, Any]]]:
    with Session(services.engine) as session:
        rows = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.action).startswith("gap."))
            .order_by(col(AuditEntry.idx))
        )
        return [(e.action, e.actor, e.subject, json.loads(e.details)) for e in rows]


def _overdue(client: TestClient, actors: Actors) -> dict[str, dict[str, Any]]:
    found = findings(client, actors.records_manager, kind="overdue_return")
    return {f["details"]["quarter_start"]: f for f in found}


def test_a_known_gap_explains_its_finding_and_is_exported_until_closed_with_the_record(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _contract(client, actors)
    created = _record_gap(client, actors.records_manager)
    assert created.status_code == 201, created.text
    gap = created.json()
    assert created.headers["Location"] == f"/api/contracts/{REF}/gaps/{gap['id']}"
    assert (gap["state"], gap["recorded_by"], gap["reason"]) == ("open", "rob", "lost")

    run_job(client, actors.records_manager)
    overdue = _overdue(client, actors)
    known, unexplained = overdue["2025-10-01"], overdue["2026-01-01"]
    assert known["details"]["explanation"] == "known_gap"
    assert known["details"]["known_gap"]["id"] == gap["id"]
    assert known["details"]["known_gap"]["reason"] == "lost"
    assert f"known gap {gap['id']}: lost" in known["summary"]
    assert unexplained["details"]["explanation"] == "unexplained"
    assert unexplained["summary"].endswith("; unexplained")

    exported = client.get(
        "/api/retention/findings.csv", params={"contract": REF}, headers=actors.auditor
    )
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["kind"] for r in rows] == ["overdue_return", "overdue_return", "known_gap"]
    row = rows[-1]
    assert (row["key"], row["contract"], row["resolved_at"]) == (f"known_gap:{gap['id']}", REF, "")
    assert "monitoring_return for 2025-10-01 to 2025-12-31 lost" in row["summary"]
    by_kind = client.get(
        "/api/retention/findings.csv",
        params={"contract": REF, "kind": "overdue_return"},
        headers=actors.auditor,
    )
    assert "known_gap" not in by_kind.text

    found = add_record(client, actors.staff, REF, "monitoring_return", "2025-12-20")
    closed = client.post(
        f"/api/contracts/{REF}/gaps/{gap['id']}/close",
        json={"found_record": found, "note": "Found in the provider's archive."},
        headers=actors.records_manager,
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["found_record"]) == ("closed", found)
    again = client.post(
        f"/api/contracts/{REF}/gaps/{gap['id']}/close",
        json={"found_record": found},
        headers=actors.records_manager,
    )
    assert_problem(again, 409)

    run_job(client, actors.records_manager)
    assert list(_overdue(client, actors)) == ["2026-01-01"]
    listed = client.get(f"/api/contracts/{REF}/gaps?state=closed", headers=actors.staff).json()
    assert [(g["id"], g["closed_by"]) for g in listed["items"]] == [(gap["id"], "rob")]
    assert client.get(f"/api/contracts/{REF}/gaps?state=open", headers=actors.staff).json() == {
        "items": [],
        "total": 0,
        "page": 1,
        "page_size": 50,
    }
    assert [(a, who, subject) for a, who, subject, _ in _gap_entries(services)] == [
        ("gap.record", "rob", f"contract:{REF}"),
        ("gap.close", "rob", f"contract:{REF}"),
    ]
    assert _gap_entries(services)[1][3]["found_record"] == found


def test_bad_gaps_are_refused_and_only_records_managers_record_them(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _contract(client, actors)
    assert_problem(_record_gap(client, actors.staff), 403)
    assert_problem(_record_gap(client, actors.auditor), 403)
    assert_problem(_record_gap(client, actors.records_manager, record_type="nonesuch"), 422)
    assert_problem(_record_gap(client, actors.records_manager, reason="mislaid"), 422)
    assert_problem(_record_gap(client, actors.records_manager, period_end="2025-09-30"), 422)
    assert_problem(_record_gap(client, actors.records_manager, evidence=""), 422)
    missing = client.post("/api/contracts/NOPE-1/gaps", json=LOST_Q4, headers=actors.admin)
    assert_problem(missing, 404)
    gap = _record_gap(client, actors.records_manager).json()
    close = f"/api/contracts/{REF}/gaps/{gap['id']}/close"
    assert_problem(client.post(close, json={"found_record": "0" * 32}, headers=actors.admin), 422)
    add_contract(client, actors.staff, "OPCC-2025-999")
    elsewhere = add_record(client, actors.staff, "OPCC-2025-999", "monitoring_return", "2025-12-20")
    wrong = client.post(close, json={"found_record": elsewhere}, headers=actors.admin)
    assert "not on the file of contract" in assert_problem(wrong, 422)["detail"]
    other_gap = f"/api/contracts/OPCC-2025-999/gaps/{gap['id']}/close"
    assert_problem(
        client.post(other_gap, json={"found_record": elsewhere}, headers=actors.admin), 404
    )
    assert [a for a, *_ in _gap_entries(services)] == ["gap.record"]
