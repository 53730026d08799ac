"""Disposal end to end: tombstones, audit trail, transfers, rejections, and what holds block."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from factories import Actors, assert_problem
from records_service.audit.log import entries_for_subject, log_size
from records_service.audit.models import AuditEntry
from records_service.auth.service import get_user
from records_service.db import session_scope
from records_service.extraction import ExtractionLimits
from records_service.records.models import IndexTask, Version, VersionText
from records_service.records.orphans import find_orphans
from records_service.records.sidecars import pending_count, write_pending_sidecars
from records_service.records.text import extract_version
from records_service.retention.dispositions import DisposalContext, decide_disposition
from records_service.retention.job import RUN_SUBJECT
from records_service.retention.models import SYSTEM_ACTOR
from records_service.runtime.services import Services
from support.faults import FaultyStore
from support.retention import run_retention_as_system

from .casefiles import (
    CLOSED_2016,
    DESTROY,
    REVIEW,
    add_contract,
    add_record,
    closed_2019,
    dispositions,
    findings,
    keys,
    run_job,
)


def _proposal(client: TestClient, actors: Actors, record_id: str) -> dict[str, object]:
    [found] = dispositions(client, actors.records_manager, record_id=record_id)
    return found


def _approve_and_execute(client: TestClient, actors: Actors, proposal_id: object) -> None:
    approved = client.post(
        f"/api/retention/dispositions/{proposal_id}/approve",
        json={"reason": "retention over"},
        headers=actors.records_manager,
    )
    assert approved.json()["status"] == "executed", approved.text


def test_executed_disposal_leaves_tombstone_and_audit_entries(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-020")
    spec = ids["specification"]
    with session_scope(services.engine) as session:
        [version_id] = session.exec(select(Version.id).where(Version.record_id == spec)).all()
    assert version_id is not None  # extract its text, so there is text to drop
    assert extract_version(services.engine, services.store, version_id, ExtractionLimits()) == (
        "extracted"
    )
    content = client.get(f"/api/records/{spec}/content", headers=actors.reviewer).content
    run_retention_as_system(services)
    proposal = _proposal(client, actors, spec)
    assert proposal["proposed_by"] == SYSTEM_ACTOR
    approved = client.post(
        f"/api/retention/dispositions/{proposal['id']}/approve",
        json={"reason": "retention over, no open matters"},
        headers=actors.records_manager,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "executed"

    [tombstone] = client.get("/api/retention/disposals", headers=actors.auditor).json()["items"]
    assert tombstone["record_id"] == spec and tombstone["record_type"] == "specification"
    assert tombstone["contract"] == "OPCC-2017-020"
    assert tombstone["versions"][0]["sha256"] == hashlib.sha256(content).hexdigest()
    assert tombstone["rule"] == "specification" and tombstone["action"] == "destroy"
    assert tombstone["citation"] == services.schedule.rule_for("specification").citation
    assert tombstone["retain_until"] == "2025-03-31"
    assert (tombstone["proposed_by"], tombstone["approved_by"]) == (SYSTEM_ACTOR, "rob")
    assert tombstone["executed_at"].startswith("2026-06-15T09:30")
    assert tombstone["metadata"]["record_date"] == CLOSED_2016["specification"]

    record = client.get(f"/api/records/{spec}", headers=actors.reviewer).json()
    assert record["status"] == "disposed"
    gone = client.get(f"/api/records/{spec}/content", headers=actors.reviewer)
    assert gone.status_code == 410 and gone.json()["type"].endswith(":gone")
    again = client.post(
        f"/api/records/{spec}/versions",
        files={"file": ("new.txt", io.BytesIO(b"revived?"), "text/plain")},
        headers=actors.records_manager,
    )
    assert again.status_code == 410, again.text
    edit = client.patch(
        f"/api/records/{spec}", json={"title": "x", "reason": "try"}, headers=actors.records_manager
    )
    assert edit.status_code == 410, edit.text
    assert list(services.store.list(f"records/{spec}/")) == []
    with session_scope(services.engine) as session:
        actions = [e.action for e in entries_for_subject(session, f"record:{spec}")]
        runs = entries_for_subject(session, RUN_SUBJECT)
        version_ids = list(session.exec(select(Version.id).where(Version.record_id == spec)))
        texts = session.exec(
            select(VersionText).where(col(VersionText.version_id).in_(version_ids))
        ).all()
        tasks = session.exec(select(IndexTask.op).where(IndexTask.record_id == spec)).all()
    assert actions[0] == "record.capture"
    assert actions[-2:] == ["disposition.approve", "disposition.execute"]
    [proposed] = [e for e in runs if e.action == "disposition.propose"]
    listed = json.loads(proposed.details)["proposals"]
    assert {"record": spec, "action": "destroy", "rule": "specification"}.items() <= next(
        p for p in listed if p["record"] == spec
    ).items()
    assert [e.action for e in runs][-1] == "retention.run"
    assert version_ids == [version_id] and texts == []
    assert tasks[-1] == "remove"

    run_job(client, actors.records_manager)
    assert keys(findings(client, actors.records_manager)) == {
        *(
            ("disposition_due", f"disposition_due:{ids[t]}")
            for t in DESTROY
            if t != "specification"
        ),
        *(("review_due", f"review_due:{ids[t]}") for t in REVIEW),
    }


def test_tombstones_are_append_only(client: TestClient, actors: Actors, services: Services) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-021")
    run_retention_as_system(services)
    proposal = _proposal(client, actors, ids["monitoring_return"])
    client.post(
        f"/api/retention/dispositions/{proposal['id']}/approve",
        json={"reason": "retention over"},
        headers=actors.admin,
    )
    for statement in (
        "UPDATE disposal_records SET approved_by = 'someone else'",
        "DELETE FROM disposal_records",
    ):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(services.engine) as s:
            s.execute(text(statement))
    with session_scope(services.engine) as session:
        row = session.execute(text("SELECT approved_by FROM disposal_records")).one()
    assert row[0] == "ada"


def test_transfer_exports_a_package_then_tombstones(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-022")
    report = ids["closure_report"]
    content = client.get(f"/api/records/{report}/content", headers=actors.reviewer).content
    proposed = client.post(
        "/api/retention/dispositions",
        json={"record_id": report, "action": "transfer", "reason": "reviewed: archive it"},
        headers=actors.records_manager,
    )
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["proposed_by"] == "rob"
    done = client.post(
        f"/api/retention/dispositions/{proposed.json()['id']}/approve",
        json={"reason": "agreed, transfer to the archive"},
        headers=actors.admin,
    )
    assert done.json()["status"] == "executed", done.text
    record = client.get(f"/api/records/{report}", headers=actors.staff).json()
    assert record["status"] == "transferred"
    view = client.get(f"/api/records/{report}/retention", headers=actors.staff).json()
    disposal = view["disposal"]
    assert disposal["transfer_key"] == f"transfers/{report}/disposition-{proposed.json()['id']}.zip"
    package = b"".join(services.store.open(disposal["transfer_key"]))
    assert hashlib.sha256(package).hexdigest() == disposal["transfer_sha256"]
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("content/v1/closure_report.txt") == content
    assert manifest["record"]["id"] == report
    assert manifest["disposition"]["approved_by"] == "ada"
    assert [e["action"] for e in manifest["audit"]][-1] == "disposition.approve"
    assert list(services.store.list(f"records/{report}/")) == []
    # The transferred record's content is gone by design, so `check` misses nothing.
    assert find_orphans(services.engine, services.store).missing_objects == []


def test_rejected_proposal_is_not_repeated_until_the_date_moves(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-023")
    run_retention_as_system(services)
    proposal = _proposal(client, actors, ids["specification"])
    rejected = client.post(
        f"/api/retention/dispositions/{proposal['id']}/reject",
        json={"reason": "needed for an audit next month"},
        headers=actors.records_manager,
    )
    assert rejected.json()["status"] == "rejected"
    assert run_job(client, actors.records_manager)["proposed"] == 0
    assert f"disposition_due:{ids['specification']}" not in {
        item["key"] for item in findings(client, actors.records_manager)
    }
    moved = client.patch(
        "/api/contracts/OPCC-2017-023", json={"end_date": "2019-06-30"}, headers=actors.staff
    )
    assert moved.status_code == 200, moved.text
    view = client.get(f"/api/records/{ids['specification']}/retention", headers=actors.staff)
    assert view.json()["retain_until"] == "2025-06-30"
    assert run_job(client, actors.records_manager)["proposed"] == 1
    latest = dispositions(client, actors.records_manager, record_id=ids["specification"])
    assert [d["status"] for d in latest] == ["proposed", "rejected"]


def test_the_proposer_can_neither_reject_nor_approve_their_own_proposal(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-024")
    proposed = client.post(
        "/api/retention/dispositions",
        json={"record_id": ids["specification"], "action": "destroy", "reason": "reviewed"},
        headers=actors.records_manager,
    )
    assert proposed.status_code == 201, proposed.text
    path = f"/api/retention/dispositions/{proposed.json()['id']}"
    before = _log_size(services)
    for decision in ("reject", "approve"):
        refused = client.post(
            f"{path}/{decision}", json={"reason": "my own call"}, headers=actors.records_manager
        )
        detail = assert_problem(refused, 403)["detail"]
        assert "proposed by rob" in detail and "second person" in detail
    assert _log_size(services) == before
    still = client.get(path, headers=actors.records_manager).json()
    assert (still["status"], still["decided_by"]) == ("proposed", None)

    other = client.post(f"{path}/reject", json={"reason": "still needed"}, headers=actors.admin)
    assert other.status_code == 200, other.text
    assert (other.json()["status"], other.json()["decided_by"]) == ("rejected", "ada")


def test_held_or_permanent_records_cannot_be_disposed_of_by_any_route(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-024")
    run_retention_as_system(services)
    far = run_job(client, actors.admin, at="2199-12-31")
    assert far["decisions"]["permanent"] == 1
    assert dispositions(client, actors.admin, record_id=ids["decision_record"]) == []
    refused = client.post(
        "/api/retention/dispositions",
        json={"record_id": ids["decision_record"], "action": "destroy", "reason": "tidy up"},
        headers=actors.records_manager,
    )
    assert refused.status_code == 409 and "permanently" in refused.json()["detail"]
    assert refused.json()["type"].endswith("disposal-refused")

    spec = ids["specification"]
    held = client.post(
        "/api/retention/holds",
        json={"record_id": spec, "reference": "LIT-2026-7", "reason": "claim threatened"},
        headers=actors.records_manager,
    )
    assert held.status_code == 201
    approve = client.post(
        f"/api/retention/dispositions/{_proposal(client, actors, spec)['id']}/approve",
        json={"reason": "retention over"},
        headers=actors.admin,
    )
    assert approve.status_code == 409 and "LIT-2026-7" in approve.json()["detail"]
    assert _proposal(client, actors, spec)["status"] == "proposed"
    manual = client.post(
        "/api/retention/dispositions",
        json={"record_id": spec, "action": "destroy", "reason": "again"},
        headers=actors.admin,
    )
    assert manual.status_code == 409
    assert client.get(f"/api/records/{spec}/content", headers=actors.reviewer).status_code == 200


def test_hold_placed_after_approval_stops_execution(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-025")
    run_retention_as_system(services)
    itt = ids["invitation_to_tender"]
    proposal = _proposal(client, actors, itt)
    ctx = DisposalContext(
        engine=services.engine,
        store=FaultyStore(services.store, fail_delete=True),
        schedule=services.schedule,
        clock=services.clock,
    )
    with session_scope(services.engine) as session:
        rob = get_user(session, "rob")
    failed = decide_disposition(
        ctx, disposition_id=int(str(proposal["id"])), approve=True, reason="over", actor=rob
    )
    assert failed.status == "approved" and failed.error
    assert "storage failure" in failed.error
    assert client.get(f"/api/records/{itt}/content", headers=actors.reviewer).status_code == 200

    hold = client.post(
        "/api/retention/holds",
        json={"contract": "OPCC-2017-025", "reference": "AUDIT-2026", "reason": "external audit"},
        headers=actors.admin,
    ).json()
    retry = client.post(
        f"/api/retention/dispositions/{proposal['id']}/execute", headers=actors.admin
    )
    assert retry.status_code == 409 and "AUDIT-2026" in retry.json()["detail"]
    assert client.get(f"/api/records/{itt}/content", headers=actors.reviewer).status_code == 200
    client.post(
        f"/api/retention/holds/{hold['id']}/release",
        json={"reason": "audit closed"},
        headers=actors.admin,
    )
    again = client.post(
        f"/api/retention/dispositions/{proposal['id']}/execute", headers=actors.admin
    )
    assert again.status_code == 200 and again.json()["status"] == "executed"
    assert again.json()["error"] is None


def test_disposed_record_leaves_search(
    client: TestClient, actors: Actors, services: Services
) -> None:
    add_contract(
        client,
        actors.staff,
        "OPCC-2017-026",
        status="closed",
        start_date="2016-04-01",
        end_date="2019-03-31",
        closed_on="2019-04-30",
    )
    spec = add_record(
        client,
        actors.staff,
        "OPCC-2017-026",
        "specification",
        "2016-01-20",
        content=b"Specification for the marmalade outreach service.\n",
    )
    services.run_background_once()

    def hits() -> list[str]:
        found = client.get("/api/search", params={"q": "marmalade"}, headers=actors.reviewer)
        assert found.status_code == 200, found.text
        return [hit["record_id"] for hit in found.json()["hits"]]

    assert hits() == [spec]
    run_retention_as_system(services)
    _approve_and_execute(client, actors, _proposal(client, actors, spec)["id"])
    services.run_background_once()
    assert hits() == []


def test_transfer_to_a_configured_directory(
    client: TestClient, actors: Actors, services: Services, tmp_path: Path
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-027")
    proposed = client.post(
        "/api/retention/dispositions",
        json={"record_id": ids["contract"], "action": "transfer", "reason": "to the archive"},
        headers=actors.records_manager,
    ).json()
    ctx = DisposalContext(
        engine=services.engine,
        store=services.store,
        schedule=services.schedule,
        clock=services.clock,
        transfer_dir=tmp_path / "archive",
    )
    with session_scope(services.engine) as session:
        ada = get_user(session, "ada")
    done = decide_disposition(
        ctx, disposition_id=proposed["id"], approve=True, reason="agreed", actor=ada
    )
    assert done.status == "executed", done.error
    package = tmp_path / "archive" / f"{ids['contract']}-disposition-{proposed['id']}.zip"
    view = client.get(f"/api/records/{ids['contract']}/retention", headers=actors.staff).json()
    assert view["disposal"]["transfer_key"] == str(package)
    assert hashlib.sha256(package.read_bytes()).hexdigest() == view["disposal"]["transfer_sha256"]
    with zipfile.ZipFile(package) as archive:
        assert "content/v1/contract.txt" in archive.namelist()


def _new_entries(services: Services, since: int) -> list[tuple[str, str, str]]:
    with session_scope(services.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(col(AuditEntry.idx) >= since).order_by(col(AuditEntry.idx))
        ).all()
    return [(row.action, row.actor, row.subject) for row in rows]


def _log_size(services: Services) -> int:
    with session_scope(services.engine) as session:
        return log_size(session)


def test_holds_decisions_and_runs_are_audited(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-028")
    spec, review = ids["specification"], ids["closure_report"]
    start = _log_size(services)
    body = {"contract": "OPCC-2017-028", "reference": "FOI-7", "reason": "FOI request"}
    assert client.post("/api/retention/holds", json=body, headers=actors.staff).status_code == 403
    hold = client.post("/api/retention/holds", json=body, headers=actors.records_manager).json()
    client.post(
        f"/api/retention/holds/{hold['id']}/release",
        json={"reason": "answered"},
        headers=actors.admin,
    )
    record_hold = client.post(
        "/api/retention/holds",
        json={"record_id": spec, "reference": "LIT-1", "reason": "claim"},
        headers=actors.admin,
    ).json()
    run_job(client, actors.records_manager, dry_run=True)
    run_job(client, actors.records_manager)
    proposal = client.post(
        "/api/retention/dispositions",
        json={"record_id": review, "action": "destroy", "reason": "reviewed, no value"},
        headers=actors.admin,
    ).json()
    client.post(
        f"/api/retention/dispositions/{proposal['id']}/reject",
        json={"reason": "keep it after all"},
        headers=actors.records_manager,
    )
    assert _new_entries(services, start) == [
        ("hold.place", "rob", "contract:OPCC-2017-028"),
        ("hold.release", "ada", "contract:OPCC-2017-028"),
        ("hold.place", "ada", f"record:{spec}"),
        ("disposition.propose", "rob", RUN_SUBJECT),
        ("retention.run", "rob", RUN_SUBJECT),
        ("disposition.propose", "ada", f"record:{review}"),
        ("disposition.reject", "rob", f"record:{review}"),
    ]
    assert record_hold["scope"] == "record"


def test_disposal_drops_queued_sidecars_and_a_late_one_is_deleted(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-028")
    spec = ids["specification"]
    run_retention_as_system(services)
    proposal = _proposal(client, actors, spec)
    disposed: list[str] = []

    def dispose_first(key: str) -> None:
        # The race: the worker has read the queue and is about to write this record's
        # sidecar when the disposal runs, deleting the content and dropping the queue row.
        if key.startswith(f"records/{spec}/") and not disposed:
            _approve_and_execute(client, actors, proposal["id"])
            disposed.append(key)

    store = FaultyStore(services.store, before_put=dispose_first)
    written = write_pending_sidecars(services.engine, store, mode="GOVERNANCE")

    assert disposed == [f"records/{spec}/v1.json"]
    assert written == len(ids)  # the late sidecar too, then deleted again
    assert list(services.store.list(f"records/{spec}/")) == []
    assert find_orphans(services.engine, services.store).ok
    others = [record_id for record_id in ids.values() if record_id != spec]
    for record_id in others:
        assert services.store.exists(f"records/{record_id}/v1.json")
    with session_scope(services.engine) as session:
        assert pending_count(session) == 0


def test_a_disposal_with_sidecars_still_queued_drops_them(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-029")
    spec = ids["specification"]
    run_retention_as_system(services)
    _approve_and_execute(client, actors, _proposal(client, actors, spec)["id"])

    with session_scope(services.engine) as session:
        assert pending_count(session, spec) == 0
        assert pending_count(session) == len(ids) - 1
    assert write_pending_sidecars(services.engine, services.store, mode="GOVERNANCE") == (
        len(ids) - 1
    )
    assert list(services.store.list(f"records/{spec}/")) == []
