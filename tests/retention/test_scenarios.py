"""The retention scenario suite: real app, fixed clock (2026-06-15), SQLite and PostgreSQL.

Each scenario builds contract files through the API, runs the job and asserts the
exact findings it leaves open.
"""

from __future__ import annotations

import io

from fastapi.testclient import TestClient

from factories import Actors
from records_service.runtime.services import Services
from records_service.storage import LocalBlobStore

from .casefiles import (
    DESTROY,
    REVIEW,
    add_contract,
    add_file,
    add_record,
    closed_2019,
    dispositions,
    findings,
    keys,
    run_job,
)

ACTIVE_2026 = {
    "needs_assessment": "2025-11-01",
    "specification": "2025-11-15",
    "invitation_to_tender": "2025-12-01",
    "decision_record": "2026-01-05",
    "contract": "2026-01-10",
}


def _active_2026(client: TestClient, actors: Actors, reference: str) -> None:
    add_contract(
        client,
        actors.staff,
        reference,
        status="active",
        start_date="2026-01-15",
        end_date="2027-12-31",
    )


def test_complete_contract_has_no_findings(client: TestClient, actors: Actors) -> None:
    _active_2026(client, actors, "OPCC-2026-001")
    ids = add_file(client, actors.staff, "OPCC-2026-001", ACTIVE_2026)
    add_record(client, actors.staff, "OPCC-2026-001", "monitoring_return", "2026-04-10")
    report = run_job(client, actors.records_manager)
    assert report["records"] == 6 and report["contracts"] == 1
    assert report["fixity_checked"] == 6 and report["fixity_failures"] == 0
    assert findings(client, actors.records_manager) == []
    assert dispositions(client, actors.records_manager) == []
    view = client.get(f"/api/records/{ids['contract']}/retention", headers=actors.staff).json()
    assert (view["retention_kind"], view["retain_until"]) == ("date", "2033-12-31")
    assert view["decision"] == "keep" and view["on_hold"] is False
    decision = client.get(
        f"/api/records/{ids['decision_record']}/retention", headers=actors.staff
    ).json()
    assert (decision["retention_kind"], decision["retain_until"]) == ("permanent", None)


def test_missing_needs_assessment(client: TestClient, actors: Actors) -> None:
    _active_2026(client, actors, "OPCC-2026-002")
    file = {k: v for k, v in ACTIVE_2026.items() if k != "needs_assessment"}
    add_file(client, actors.staff, "OPCC-2026-002", file)
    add_record(client, actors.staff, "OPCC-2026-002", "monitoring_return", "2026-04-10")
    run_job(client, actors.records_manager)
    found = findings(client, actors.records_manager)
    assert keys(found) == {("missing_record", "missing_record:OPCC-2026-002/needs_assessment")}
    [gap] = found
    assert gap["subject"] == "contract:OPCC-2026-002"
    assert gap["contract"] == "OPCC-2026-002"
    assert gap["details"]["stage"] == "need"
    assert gap["details"]["record_types"] == ["needs_assessment"]
    assert "missing needs_assessment" in gap["summary"]


def test_active_contract_with_overdue_monitoring_return(client: TestClient, actors: Actors) -> None:
    add_contract(
        client,
        actors.staff,
        "OPCC-2025-003",
        status="active",
        start_date="2025-10-01",
        end_date="2027-09-30",
    )
    add_file(client, actors.staff, "OPCC-2025-003", ACTIVE_2026)
    add_record(client, actors.staff, "OPCC-2025-003", "monitoring_return", "2025-12-20")
    run_job(client, actors.records_manager)
    found = findings(client, actors.records_manager)
    assert keys(found) == {
        ("overdue_return", "overdue_return:OPCC-2025-003/quarterly_monitoring/2026-01-01")
    }
    details = found[0]["details"]
    assert (details["quarter_start"], details["quarter_end"]) == ("2026-01-01", "2026-03-31")
    assert (details["due_date"], details["days_overdue"]) == ("2026-04-30", 46)


def test_closed_contract_without_closure_report(client: TestClient, actors: Actors) -> None:
    add_contract(
        client,
        actors.staff,
        "OPCC-2023-004",
        status="closed",
        start_date="2023-04-01",
        end_date="2026-01-31",
        closed_on="2026-02-01",
    )
    add_file(client, actors.staff, "OPCC-2023-004", ACTIVE_2026)
    run_job(client, actors.records_manager)
    found = findings(client, actors.records_manager)
    assert keys(found) == {("missing_record", "missing_record:OPCC-2023-004/closure_report")}
    details = found[0]["details"]
    assert (details["due_date"], details["days_overdue"], details["days_since_end"]) == (
        "2026-05-01",
        45,
        135,
    )


def test_deed_is_kept_twelve_years_simple_contract_six(client: TestClient, actors: Actors) -> None:
    files = {}
    for reference, is_deed in (("OPCC-2020-005", False), ("OPCC-2020-006", True)):
        add_contract(
            client,
            actors.staff,
            reference,
            status="closed",
            start_date="2018-09-01",
            end_date="2020-08-31",
            closed_on="2020-09-30",
            is_deed=is_deed,
        )
        file = {**{k: "2018-08-01" for k in ACTIVE_2026}, "closure_report": "2020-10-15"}
        files[reference] = add_file(client, actors.staff, reference, file)
    run_job(client, actors.records_manager)
    expiring = ("needs_assessment", "specification", "invitation_to_tender", "closure_report")
    simple, deed = files["OPCC-2020-005"], files["OPCC-2020-006"]
    assert keys(findings(client, actors.records_manager, contract="OPCC-2020-005")) == {
        ("expiring", f"expiring:{simple[t]}") for t in (*expiring, "contract")
    }
    assert keys(findings(client, actors.records_manager, contract="OPCC-2020-006")) == {
        ("expiring", f"expiring:{deed[t]}") for t in expiring
    }
    simple_view = client.get(f"/api/records/{simple['contract']}/retention", headers=actors.staff)
    deed_view = client.get(f"/api/records/{deed['contract']}/retention", headers=actors.staff)
    assert simple_view.json()["retain_until"] == "2026-08-31"
    assert simple_view.json()["decision"] == "expiring"
    assert deed_view.json()["retain_until"] == "2032-08-31"
    assert "deed" in deed_view.json()["retention_reason"]


def test_foi_hold_blocks_disposal_until_released(client: TestClient, actors: Actors) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-007")
    hold = client.post(
        "/api/retention/holds",
        json={"contract": "OPCC-2017-007", "reference": "FOI-2026-0142", "reason": "FOI request"},
        headers=actors.records_manager,
    )
    assert hold.status_code == 201, hold.text
    report = run_job(client, actors.records_manager)
    assert report["decisions"]["blocked_by_hold"] == 6
    assert report["proposed"] == 0
    assert findings(client, actors.records_manager) == []
    assert dispositions(client, actors.records_manager) == []
    view = client.get(f"/api/records/{ids['specification']}/retention", headers=actors.staff)
    assert view.json()["decision"] == "blocked_by_hold" and view.json()["on_hold"] is True
    assert view.json()["retain_until"] == "2025-03-31"

    released = client.post(
        f"/api/retention/holds/{hold.json()['id']}/release",
        json={"reason": "request answered"},
        headers=actors.admin,
    )
    assert released.status_code == 200 and released.json()["active"] is False
    assert run_job(client, actors.records_manager)["proposed"] == 3
    assert keys(findings(client, actors.records_manager)) == {
        *(("disposition_due", f"disposition_due:{ids[t]}") for t in DESTROY),
        *(("review_due", f"review_due:{ids[t]}") for t in REVIEW),
    }
    proposed = dispositions(client, actors.records_manager, status="proposed")
    assert {d["record_id"] for d in proposed} == {ids[t] for t in DESTROY}
    assert {d["action"] for d in proposed} == {"destroy"}


def test_disposition_approved_by_the_wrong_person_is_refused(
    client: TestClient, actors: Actors
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-008")
    run_job(client, actors.records_manager)  # proposes as rob
    [spec] = dispositions(client, actors.records_manager, record_id=ids["specification"])
    assert spec["proposed_by"] == "rob"
    approve = f"/api/retention/dispositions/{spec['id']}/approve"
    same = client.post(approve, json={"reason": "looks fine"}, headers=actors.records_manager)
    assert same.status_code == 403
    assert "second person" in same.json()["detail"]
    staff = client.post(approve, json={"reason": "looks fine"}, headers=actors.staff)
    assert staff.status_code == 403
    [still] = dispositions(client, actors.records_manager, record_id=ids["specification"])
    assert still["status"] == "proposed" and still["decided_by"] is None
    content = client.get(f"/api/records/{ids['specification']}/content", headers=actors.reviewer)
    assert content.status_code == 200
    assert len(findings(client, actors.records_manager)) == 6

    other = client.post(approve, json={"reason": "past retention"}, headers=actors.admin)
    assert other.status_code == 200, other.text
    assert other.json()["status"] == "executed" and other.json()["decided_by"] == "ada"
    gone = client.get(f"/api/records/{ids['specification']}/content", headers=actors.reviewer)
    assert gone.status_code == 410
    assert f"disposition_due:{ids['specification']}" not in {
        item["key"] for item in findings(client, actors.records_manager)
    }


def test_stored_object_changed_behind_the_service(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _active_2026(client, actors, "OPCC-2026-009")
    ids = add_file(client, actors.staff, "OPCC-2026-009", ACTIVE_2026)
    add_record(client, actors.staff, "OPCC-2026-009", "monitoring_return", "2026-04-10")
    store = services.store
    assert isinstance(store, LocalBlobStore)
    missing, changed = f"records/{ids['specification']}/v1", f"records/{ids['contract']}/v1"
    original = b"".join(store.open(missing))
    store.delete(missing)
    store.root.joinpath(*changed.split("/")).write_bytes(b"quietly edited\n")
    report = run_job(client, actors.records_manager)
    assert report["fixity_failures"] == 2
    found = {item["key"]: item for item in findings(client, actors.records_manager)}
    assert set(found) == {f"fixity_failure:{missing}", f"fixity_failure:{changed}"}
    assert found[f"fixity_failure:{missing}"]["details"]["problem"] == "stored object is missing"
    assert found[f"fixity_failure:{missing}"]["subject"] == f"record:{ids['specification']}"
    assert found[f"fixity_failure:{changed}"]["details"]["actual_size"] == 15

    store.put(missing, io.BytesIO(original))  # restored from a backup
    report = run_job(client, actors.records_manager)
    assert report["findings_resolved"] == 1
    assert keys(findings(client, actors.records_manager)) == {
        ("fixity_failure", f"fixity_failure:{changed}")
    }
