"""Routes that only read do not queue behind a writer on SQLite (on PostgreSQL readers
never wait for row writers anyway), and routes that write still do."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract, make_settings
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.locks import write_lock_held

READS = [
    "/api/contracts",
    "/api/contracts/OPCC-2023-014",
    "/api/contracts/OPCC-2023-014/timeline",
    "/api/records",
    "/api/records/{id}",
    "/api/records/{id}/changes",
    "/api/records/{id}/history",
    "/api/audit/entries",
    "/api/audit/entries/0/proof",
    "/api/audit/consistency?first=1&second=2",
    "/api/records/{id}/retention",
    "/api/retention/findings",
    "/api/retention/findings.csv",
    "/api/retention/holds",
    "/api/retention/dispositions",
    "/api/retention/disposals",
]


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """The embedded default only: the subject is SQLite's write lock."""
    return make_settings(tmp_path, sqlite_url)


def test_reads_answer_while_a_writer_holds_the_lock(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    record = capture(client, actors.staff).json()
    with write_lock_held(services.engine):
        for path in READS:
            started = time.monotonic()
            response = client.get(path.format(id=record["id"]), headers=actors.records_manager)
            assert response.status_code == 200, (path, response.text)
            assert time.monotonic() - started < 2.0, path


def test_a_write_waits_for_the_lock_and_then_lands(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    result: dict[str, int] = {}
    with write_lock_held(services.engine):
        writer = threading.Thread(
            target=lambda: result.update(status=capture(client, actors.staff).status_code)
        )
        writer.start()
        writer.join(1.0)
        assert writer.is_alive(), "the capture should wait for the write lock"
    writer.join(30)
    assert result == {"status": 201}
