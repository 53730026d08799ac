"""The retention job as a whole: idempotence, resolution, dry runs, CLI and API, roles, timer."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import func, select

from factories import Actors, FixedClock
from records_service.audit.models import AuditEntry
from records_service.cli import main
from records_service.db import session_scope
from records_service.retention.job import last_run_at
from records_service.runtime.retention_timer import start_retention_timer
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.waiting import wait_until

from .casefiles import (
    CLOSED_2016,
    add_contract,
    add_file,
    closed_2019,
    dispositions,
    findings,
    keys,
    run_job,
)


def _mixed_files(client: TestClient, actors: Actors) -> None:
    """Files past retention, near its end, and with gaps: every kind of finding."""
    closed_2019(client, actors.staff, "OPCC-2017-030")
    add_contract(
        client,
        actors.staff,
        "OPCC-2025-031",
        status="active",
        start_date="2025-10-01",
        end_date="2026-08-31",
    )
    add_file(client, actors.staff, "OPCC-2025-031", {"specification": "2025-09-01"})
    add_contract(
        client,
        actors.staff,
        "OPCC-2018-034",
        status="closed",
        start_date="2018-09-01",
        end_date="2020-08-31",
        closed_on="2020-09-30",
    )
    add_file(client, actors.staff, "OPCC-2018-034", {"correspondence": "2019-05-01"})


def _audit_size(services: Services) -> int:
    with session_scope(services.engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditEntry)).one())


def test_a_second_run_at_the_same_moment_changes_nothing(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    _mixed_files(client, actors)
    first = run_job(client, actors.records_manager)
    assert first["proposed"] == 3 and first["findings_opened"] > 0
    assert set(first["open_findings"]) == {
        "disposition_due",
        "expiring",
        "missing_record",
        "overdue_return",
        "review_due",
    }
    before = findings(client, actors.records_manager, state="all")
    proposals = dispositions(client, actors.records_manager)
    audit = _audit_size(services)

    second = run_job(client, actors.records_manager)
    assert (second["proposed"], second["findings_opened"]) == (0, 0)
    assert (second["findings_updated"], second["findings_resolved"]) == (0, 0)
    assert findings(client, actors.records_manager, state="all") == before
    assert dispositions(client, actors.records_manager) == proposals
    assert _audit_size(services) == audit + 1  # only the run's own entry

    clock.advance(hours=1)
    later = run_job(client, actors.records_manager)
    assert later["findings_updated"] == len(before) and later["findings_opened"] == 0
    after = findings(client, actors.records_manager, state="all")
    assert [f["key"] for f in after] == [f["key"] for f in before]
    assert [f["first_seen"] for f in after] == [f["first_seen"] for f in before]


def test_a_finding_resolves_when_its_cause_goes_away(client: TestClient, actors: Actors) -> None:
    add_contract(client, actors.staff, "OPCC-2016-032", status="closed", closed_on="2026-04-01")
    file = {k: v for k, v in CLOSED_2016.items() if k not in ("needs_assessment", "closure_report")}
    add_file(client, actors.staff, "OPCC-2016-032", file)
    run_job(client, actors.records_manager)
    missing = ("missing_record", "missing_record:OPCC-2016-032/needs_assessment")
    assert missing in keys(findings(client, actors.records_manager))
    add_file(client, actors.staff, "OPCC-2016-032", {"needs_assessment": "2016-01-01"})
    report = run_job(client, actors.records_manager)
    assert report["findings_resolved"] == 1
    assert missing not in keys(findings(client, actors.records_manager))
    [resolved] = findings(client, actors.records_manager, state="resolved")
    assert resolved["key"] == missing[1] and resolved["open"] is False
    assert resolved["resolved_at"].startswith("2026-06-15")


def test_dry_run_reports_but_changes_nothing(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _mixed_files(client, actors)
    audit = _audit_size(services)
    report = run_job(client, actors.records_manager, dry_run=True)
    assert report["dry_run"] is True and report["proposed"] == 3
    assert report["findings_opened"] > 0 and report["open_findings"]
    assert findings(client, actors.records_manager, state="all") == []
    assert dispositions(client, actors.records_manager) == []
    assert _audit_size(services) == audit
    assert last_run_at(services.engine) is None


def test_cli_and_api_show_the_same_findings(
    client: TestClient, actors: Actors, settings: Settings
) -> None:
    _mixed_files(client, actors)
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_RETENTION__FIXITY": "full",
    }
    runner = CliRunner()
    ran = runner.invoke(main, ["retention", "run", "--at", "2026-06-15"], env=env)
    assert ran.exit_code == 0, ran.output
    assert "dispositions proposed  3" in ran.stdout
    listed = runner.invoke(main, ["retention", "findings", "--csv"], env=env)
    assert listed.exit_code == 0, listed.output
    api_csv = client.get("/api/retention/findings.csv", headers=actors.auditor)
    assert api_csv.headers["content-type"].startswith("text/csv")
    assert listed.stdout == api_csv.text
    assert len(api_csv.text.splitlines()) == 1 + len(findings(client, actors.auditor))
    plain = runner.invoke(main, ["retention", "findings", "--kind", "missing_record"], env=env)
    assert plain.stdout.count("missing_record\tcontract:OPCC-2025-031") == 4

    again = run_job(client, actors.records_manager, at="2026-06-15")
    assert (again["findings_opened"], again["findings_resolved"], again["proposed"]) == (0, 0, 0)


def test_roles(client: TestClient, actors: Actors) -> None:
    closed_2019(client, actors.staff, "OPCC-2017-033")
    assert client.post("/api/retention/run", headers=actors.staff).status_code == 403
    assert client.post("/api/retention/run", headers=actors.auditor).status_code == 403
    assert client.get("/api/retention/findings", headers=actors.staff).status_code == 403
    assert client.get("/api/retention/findings", headers=actors.auditor).status_code == 200
    hold = {"contract": "OPCC-2017-033", "reference": "FOI-1", "reason": "FOI request"}
    for who in (actors.staff, actors.reviewer, actors.auditor):
        assert client.post("/api/retention/holds", json=hold, headers=who).status_code == 403
    placed = client.post("/api/retention/holds", json=hold, headers=actors.admin)
    assert placed.status_code == 201
    release = f"/api/retention/holds/{placed.json()['id']}/release"
    body = {"reason": "answered"}
    assert client.post(release, json=body, headers=actors.staff).status_code == 403
    listed = client.get("/api/retention/holds?active=true", headers=actors.auditor).json()
    assert [h["reference"] for h in listed["items"]] == ["FOI-1"]
    assert client.post(release, json=body, headers=actors.records_manager).status_code == 200
    assert client.post(release, json=body, headers=actors.records_manager).status_code == 409
    assert client.get("/api/retention/schedule").status_code == 401


def test_schedule_is_served(client: TestClient, actors: Actors, services: Services) -> None:
    body = client.get("/api/retention/schedule", headers=actors.staff).json()
    assert body == services.schedule.to_dict()
    assert body["record_types"]["contract"]["deed_period"] == "12y"


def test_server_timer_runs_when_due_then_waits_an_interval(
    client: TestClient, services: Services
) -> None:
    assert last_run_at(services.engine) is None
    timer = start_retention_timer(
        engine=services.engine,
        store=services.store,
        schedule=services.schedule,
        settings=services.settings,
        clock=services.clock,
    )
    assert timer is not None
    try:
        wait_until(lambda: last_run_at(services.engine) is not None, "the timer never ran")
        assert last_run_at(services.engine) == services.clock()
        assert timer.seconds_until_due() == timedelta(hours=24).total_seconds()
    finally:
        timer.stop()
    disabled = services.settings.model_copy(
        update={"retention": services.settings.retention.model_copy(update={"interval_hours": 0})}
    )
    assert (
        start_retention_timer(
            engine=services.engine,
            store=services.store,
            schedule=services.schedule,
            settings=disabled,
            clock=services.clock,
        )
        is None
    )
