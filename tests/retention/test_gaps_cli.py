"""``records-service gaps add/list/close``: the register from the command line, in the
name of a records manager (``--by``), audited as on the API; others are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from factories import FixedClock, make_actors, make_settings
from records_service.app import create_app
from records_service.cli import main
from records_service.runtime.services import Services
from records_service.settings import Settings

from .casefiles import add_contract, add_record

REF = "OPCC-2016-017"


@pytest.fixture
def cli_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def api(cli_settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    with TestClient(create_app(cli_settings, clock=clock, background=False)) as client:
        yield client


def _cli(settings: Settings, *args: str) -> Result:
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
    }
    return CliRunner().invoke(main, ["gaps", *args], env=env)


def test_gaps_add_list_and_close(api: TestClient, cli_settings: Settings) -> None:
    services: Services = api.app.state.services  # type: ignore[attr-defined]
    actors = make_actors(services)
    add_contract(
        api,
        actors.staff,
        REF,
        status="closed",
        start_date="2016-04-01",
        end_date="2019-03-31",
        closed_on="2019-03-31",
    )
    add = [
        "add",
        REF,
        "--record-type",
        "monitoring_return",
        "--from",
        "2016-07-01",
        "--to",
        "2016-09-30",
        "--reason",
        "held_by_provider",
        "--evidence",
        "The provider confirmed in writing that it keeps the Q2 return.",
        "--reported-by",
        "Safe Haven Trust",
    ]
    refused = _cli(cli_settings, *add, "--by", "sam")
    assert refused.exit_code == 1 and "sam may not record or close known gaps" in refused.output
    bad = _cli(cli_settings, *add[:6], "--to", "2016-06-30", *add[8:], "--by", "rob")
    assert bad.exit_code == 2 and "period_end is before period_start" in bad.output

    recorded = _cli(cli_settings, *add, "--by", "rob")
    assert recorded.exit_code == 0, recorded.output
    assert recorded.output == f"recorded known gap 1 in {REF}\n"
    listed = _cli(cli_settings, "list", REF).output
    assert listed == (
        "1\tmonitoring_return\t2016-07-01 to 2016-09-30\theld by the provider\topen\t"
        "reported by Safe Haven Trust\n"
    )

    found = add_record(api, actors.staff, REF, "monitoring_return", "2016-10-12")
    closed = _cli(cli_settings, "close", REF, "1", "--record", found, "--by", "rob")
    assert closed.exit_code == 0, closed.output
    assert _cli(cli_settings, "list", REF, "--state", "open").output == ""
    assert f"found {found}" in _cli(cli_settings, "list", REF, "--state", "closed").output
    again = _cli(cli_settings, "close", REF, "1", "--record", found, "--by", "rob")
    assert again.exit_code == 1 and "was closed on" in again.output
    audit = api.get(
        "/api/audit/entries", params={"subject": f"contract:{REF}"}, headers=actors.auditor
    ).json()
    assert [(e["action"], e["actor"]) for e in audit["items"]][-2:] == [
        ("gap.record", "rob"),
        ("gap.close", "rob"),
    ]
