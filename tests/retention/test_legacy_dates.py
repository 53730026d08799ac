"""Legacy rows dated at the ends of the calendar: every way of running the job still finishes.

The contracts and records are first made valid through the API, then given
9999-12-31 or 0001-01-01 straight in the database, as a database from before the
service bounded its dates could hold them. Each bad item becomes one ``job_error``
finding naming it; every good contract still gets its normal findings; the pages
and the API that show the bad items answer 200.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlmodel import col

from factories import Actors
from records_service.cli import main
from records_service.contracts.models import Contract
from records_service.records.models import Record
from records_service.retention.job import last_run_at, run_retention
from records_service.runtime.retention_timer import start_retention_timer
from records_service.runtime.services import Services
from records_service.settings import Settings
from web.signin import add_person, sign_in

from .casefiles import DESTROY, TODAY, add_contract, add_record, closed_2019, findings

LAST = date(9999, 12, 31)
FIRST = date(1, 1, 1)
GOOD = "OPCC-2017-030"
LATE = "OPCC-LEGACY-LATE"
EARLY = "OPCC-LEGACY-EARLY"


def _legacy(client: TestClient, actors: Actors, services: Services) -> dict[str, str]:
    """A good closed contract, two contracts and two records with legacy dates; ids by name."""
    good = closed_2019(client, actors.staff, GOOD)
    dates = {"start_date": "2016-04-01", "end_date": "2019-03-31", "closed_on": "2019-04-30"}
    add_contract(client, actors.staff, LATE, status="closed", **dates)
    add_contract(client, actors.staff, EARLY, status="active", start_date="2024-01-01")
    ids = {
        "on_late": add_record(client, actors.staff, LATE, "contract", "2016-03-15"),
        "late": add_record(client, actors.staff, None, "invoice", "2020-01-01"),
        "early": add_record(client, actors.staff, None, "invoice", "2020-01-02"),
        **{f"good_{kind}": rid for kind, rid in good.items()},
    }
    with services.engine.begin() as connection:
        for reference, values in (
            (LATE, {"end_date": LAST, "closed_on": LAST}),
            (EARLY, {"start_date": FIRST}),
        ):
            connection.execute(
                update(Contract).where(col(Contract.reference) == reference).values(**values)
            )
        for rid, day in ((ids["late"], LAST), (ids["early"], FIRST)):
            connection.execute(update(Record).where(col(Record.id) == rid).values(record_date=day))
    return ids


def _job_errors(client: TestClient, actors: Actors) -> dict[str, str]:
    """Open ``job_error`` findings: summary by subject."""
    return {f["subject"]: f["summary"] for f in findings(client, actors.auditor, kind="job_error")}


def _assert_reported(client: TestClient, actors: Actors, ids: dict[str, str]) -> None:
    errors = _job_errors(client, actors)
    assert set(errors) == {
        f"contract:{LATE}",
        f"contract:{EARLY}",
        f"record:{ids['late']}",
        f"record:{ids['early']}",
    }
    assert errors[f"contract:{LATE}"].startswith(
        f"contract {LATE} could not be evaluated: end date 9999-12-31 is after "
    )
    assert "the last day of the calendar" in errors[f"contract:{LATE}"]
    assert errors[f"contract:{EARLY}"] == (
        f"contract {EARLY} could not be evaluated: start date 0001-01-01 is before "
        "1900-01-01, the earliest date a record can bear"
    )
    assert errors[f"record:{ids['early']}"].startswith(
        f"record {ids['early']} could not be evaluated: record date 0001-01-01 is before"
    )
    # The good contract's findings are those of a run without the legacy rows.
    everything = findings(client, actors.auditor)
    due = {f["record_id"] for f in everything if f["kind"] == "disposition_due"}
    assert due == {ids[f"good_{kind}"] for kind in DESTROY}
    # Nothing but the job errors about the legacy items: no disposal, no flood of quarters.
    legacy = {LATE, EARLY}
    about_legacy = [
        f
        for f in everything
        if f["contract"] in legacy or f["record_id"] in {ids["late"], ids["early"], ids["on_late"]}
    ]
    assert {f["kind"] for f in about_legacy} == {"job_error"}


def test_a_run_through_the_api_reports_each_legacy_item_and_goes_on(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = _legacy(client, actors, services)
    response = client.post("/api/retention/run", json={}, headers=actors.records_manager)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["job_errors"] == 4 and report["proposed"] == len(DESTROY)
    assert report["decisions"]["keep"] >= 3  # the legacy records are kept, never disposed of
    _assert_reported(client, actors, ids)

    again = client.post("/api/retention/run", json={}, headers=actors.records_manager).json()
    assert (again["findings_opened"], again["findings_resolved"]) == (0, 0)


def test_a_corrected_date_resolves_its_job_error(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = _legacy(client, actors, services)
    client.post("/api/retention/run", json={}, headers=actors.records_manager)
    with services.engine.begin() as connection:
        fixed = update(Record).where(col(Record.id) == ids["early"])
        connection.execute(fixed.values(record_date=date(2020, 1, 2)))
    report = client.post("/api/retention/run", json={}, headers=actors.records_manager).json()
    assert report["job_errors"] == 3 and report["findings_resolved"] == 1
    assert f"record:{ids['early']}" not in _job_errors(client, actors)


def test_a_run_from_the_command_line_reports_each_legacy_item(
    client: TestClient, actors: Actors, services: Services, settings: Settings
) -> None:
    ids = _legacy(client, actors, services)
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_RETENTION__FIXITY": "full",
    }
    ran = CliRunner().invoke(main, ["retention", "run", "--at", TODAY.isoformat()], env=env)
    assert ran.exit_code == 0, ran.output
    assert "job errors             4" in ran.stdout
    _assert_reported(client, actors, ids)


def test_the_job_function_and_the_timer_finish_despite_legacy_items(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = _legacy(client, actors, services)
    common: dict[str, Any] = {
        "engine": services.engine,
        "store": services.store,
        "schedule": services.schedule,
        "settings": services.settings,
        "clock": services.clock,
    }
    report = run_retention(**common, actor="system", dry_run=True)
    assert report.job_errors == 4 and report.proposed == len(DESTROY)
    timer = start_retention_timer(**common)
    assert timer is not None
    try:
        deadline = time.monotonic() + 60
        while last_run_at(services.engine) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        timer.stop()
    assert last_run_at(services.engine) == services.clock()
    _assert_reported(client, actors, ids)


def test_the_pages_and_the_api_show_legacy_items(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = _legacy(client, actors, services)
    for rid in (ids["late"], ids["early"], ids["on_late"]):
        shown = client.get(f"/api/records/{rid}/retention", headers=actors.staff)
        assert shown.status_code == 200, shown.text
        assert shown.json()["decision"] == "keep"
    add_person(services, "adele", "admin")
    browser = TestClient(client.app, follow_redirects=False)
    assert sign_in(browser, "adele").status_code == 303
    late = browser.get(f"/contracts/{LATE}")
    assert late.status_code == 200, late.text
    assert "The checklist cannot be worked out until this contract" in late.text
    assert "end date 9999-12-31 is after" in late.text
    early = browser.get(f"/contracts/{EARLY}")
    assert early.status_code == 200 and "start date 0001-01-01 is before" in early.text
    for rid in (ids["late"], ids["early"], ids["on_late"]):
        assert browser.get(f"/records/{rid}").status_code == 200
    good = browser.get(f"/contracts/{GOOD}")
    assert good.status_code == 200 and "cannot be worked out" not in good.text


# Only SQLite lets a date column hold text that is no date.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rows_that_cannot_be_read_are_reported_and_the_rest_evaluated(
    client: TestClient, actors: Actors, services: Services
) -> None:
    good = closed_2019(client, actors.staff, GOOD)
    add_contract(client, actors.staff, LATE, status="active", start_date="2024-01-01")
    on_broken = add_record(client, actors.staff, LATE, "contract", "2024-01-02")
    broken = add_record(client, actors.staff, None, "invoice", "2020-01-01")
    with services.engine.begin() as connection:
        connection.execute(
            text("UPDATE contracts SET end_date = '2024-13-45' WHERE reference = :ref"),
            {"ref": LATE},
        )
        connection.execute(
            text("UPDATE records SET record_date = 'last year' WHERE id = :id"), {"id": broken}
        )
    report = client.post("/api/retention/run", json={}, headers=actors.records_manager).json()
    assert report["job_errors"] == 2 and report["decisions"]["error"] == 2
    assert report["proposed"] == len(DESTROY)
    errors = _job_errors(client, actors)
    assert errors[f"contract:{LATE}"].startswith(
        f"contract {LATE} could not be evaluated: a date cannot be read: "
    )
    assert errors[f"record:{broken}"].startswith(f"record {broken} could not be evaluated: ")
    due = {f["record_id"] for f in findings(client, actors.auditor, kind="disposition_due")}
    assert due == {good[kind] for kind in DESTROY} and on_broken not in due
