"""The upgrade to tantivy, on a data directory left by a release that only knew Whoosh.

``tests/fixtures/release-data.tar.gz`` was made by that release's own code (see
``tests/fixtures/make_release_data.py``): SQLite, local blobs, and a complete
Whoosh index of four records in ``data/index``. The current code starts on a
copy with the default settings, which choose tantivy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from records_service.app import create_app
from records_service.auth.service import issue_token
from records_service.db import session_scope
from records_service.indexing.upgrade import UpgradingIndex
from records_service.runtime.services import Services
from records_service.settings import Settings

FIXTURE = Path(__file__).parent.parent / "fixtures" / "release-data.tar.gz"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / "data"


@pytest.fixture
def upgraded(data_dir: Path) -> Iterator[tuple[TestClient, Services]]:
    app = create_app(Settings(data_dir=data_dir), background=False)
    with TestClient(app) as client:
        yield client, app.state.services


def _bearer(services: Services, username: str) -> dict[str, str]:
    with session_scope(services.engine) as session:
        token = issue_token(session, username=username, clock=services.clock)
    return {"Authorization": f"Bearer {token}"}


def _titles(client: TestClient, headers: dict[str, str], text: str) -> set[str]:
    response = client.get("/api/search", params={"q": text}, headers=headers)
    assert response.status_code == 200, response.text
    return {hit["title"] for hit in response.json()["hits"]}


def _expected_answers(client: TestClient, services: Services) -> None:
    """What the release's four records must give, whichever index answers."""
    rita, sam = _bearer(services, "rita"), _bearer(services, "sam")
    assert _titles(client, rita, "funding") == {"Refuge grant decision"}
    assert _titles(client, rita, "cafe") == {"Cafe outreach notes"}
    assert _titles(client, rita, "volunteers") == {"Helpline monitoring return"}
    assert _titles(client, rita, "zephyr") == {"Safeguarding case review"}
    assert _titles(client, sam, "zephyr") == {"Safeguarding case review"}  # his own
    response = client.get("/api/search", params={"q": ""}, headers=rita)
    assert response.json()["total"] == 4


def test_searches_answer_from_whoosh_until_tantivy_is_built(
    upgraded: tuple[TestClient, Services], data_dir: Path
) -> None:
    client, services = upgraded
    assert isinstance(services.index, UpgradingIndex)
    health = client.get("/health").json()["index"]
    assert health["engine"] == "tantivy"
    assert health["answering_from"] == "whoosh"
    assert health["needs_rebuild"] is True
    _expected_answers(client, services)

    while services.run_background_once():  # the worker's first round rebuilds
        pass

    health = client.get("/health").json()["index"]
    assert (health["answering_from"], health["needs_rebuild"], health["documents"]) == (
        None,
        False,
        4,
    )
    _expected_answers(client, services)
    assert (data_dir / "index" / "tantivy").is_dir()
    assert (data_dir / "index" / "index.json").is_file()  # Whoosh's files are left alone


def test_new_captures_after_the_upgrade_are_found(upgraded: tuple[TestClient, Services]) -> None:
    client, services = upgraded
    while services.run_background_once():
        pass
    sam = _bearer(services, "sam")
    form = {
        "title": "Quarterly return",
        "record_type": "monitoring_return",
        "contract": "OPCC-2019-007",
        "record_date": "2021-01-10",
    }
    files = {"file": ("q.txt", b"Outcomes for quokka outreach.", "text/plain")}
    assert client.post("/api/records", data=form, files=files, headers=sam).status_code == 201
    while services.run_background_once():
        pass
    assert _titles(client, sam, "quokka") == {"Quarterly return"}


def test_reindex_status_says_which_index_answers(data_dir: Path) -> None:
    env = {**os.environ, "RECORDS_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "records_service", "reindex", "--status"]
    before = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "engine: tantivy" in before.stdout
    assert "searches answer from the whoosh index until it is built" in before.stdout
    rebuild = [sys.executable, "-m", "records_service", "reindex", "--quiet"]
    done = subprocess.run(rebuild, env=env, capture_output=True, text=True, check=True)
    assert "indexed 4 versions" in done.stdout
    after = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "documents: 4" in after.stdout
    assert "answer from the whoosh" not in after.stdout
