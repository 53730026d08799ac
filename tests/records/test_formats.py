"""A PDF, a DOCX and an e-mail captured through the API come back byte-identical,
and their text is extracted after commit."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import select

from factories import Actors, capture, create_contract
from records_service.db import session_scope
from records_service.records.models import Version, VersionText
from records_service.records.text import extract_pending
from records_service.runtime.services import Services
from support.waiting import wait_until

FIXTURES = Path(__file__).parent.parent / "fixtures"

CASES = [
    ("victim-services.pdf", "application/pdf", "needs assessment"),
    (
        "commissioning-plan.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "helpline",
    ),
    ("helpline-referral.eml", "message/rfc822", "helpline"),
]


@pytest.mark.parametrize(("name", "media_type", "phrase"), CASES)
def test_round_trip_and_extraction(
    client: TestClient,
    actors: Actors,
    services: Services,
    name: str,
    media_type: str,
    phrase: str,
) -> None:
    create_contract(client, actors.staff)
    content = (FIXTURES / name).read_bytes()
    # The client lies about the type; the service sniffs the bytes.
    created = capture(client, actors.staff, content=content, filename=name)
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["versions"][0]["media_type"] == media_type
    download = client.get(f"/api/records/{record['id']}/content", headers=actors.staff)
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(content).hexdigest()
    assert download.headers["content-type"].startswith(media_type)

    assert services.run_background_once() >= 1
    after = client.get(f"/api/records/{record['id']}", headers=actors.staff).json()
    assert after["versions"][0]["text_status"] == "extracted"
    with session_scope(services.engine) as session:
        version = session.exec(select(Version).where(Version.record_id == record["id"])).one()
        text = session.get(VersionText, version.id)
    assert text is not None and phrase in text.text.lower()


def test_extraction_failure_never_loses_the_capture(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    content = (FIXTURES / "corrupt.pdf").read_bytes()
    record = capture(client, actors.staff, content=content, filename="broken.pdf").json()
    services.run_background_once()
    after = client.get(f"/api/records/{record['id']}", headers=actors.staff).json()
    version = after["versions"][0]
    assert version["text_status"] == "failed"
    assert version["text_reason"]
    download = client.get(f"/api/records/{record['id']}/content", headers=actors.staff)
    assert download.content == content


def test_the_running_service_extracts_every_capture_in_one_worker_process(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    services.start_worker()
    ids = []
    for name, _, _ in CASES:
        created = capture(client, actors.staff, content=(FIXTURES / name).read_bytes())
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
        services.notify_worker()

    def statuses() -> list[str]:
        records = [client.get(f"/api/records/{i}", headers=actors.staff).json() for i in ids]
        return [record["versions"][0]["text_status"] for record in records]

    wait_until(lambda: "pending" not in statuses(), "text extraction never finished")
    assert statuses() == ["extracted"] * 3
    assert services.extraction_worker is not None
    assert services.extraction_worker.started == 1
    worker_pid = services.extraction_worker.pid
    assert worker_pid is not None
    services.close()
    assert services.extraction_worker is None
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)


def _pending(services: Services) -> int:
    with session_scope(services.engine) as session:
        rows = session.exec(select(Version).where(Version.text_status == "pending"))
        return len(list(rows))


def _capture_every_case(client: TestClient, actors: Actors) -> None:
    create_contract(client, actors.staff)
    for name, _, _ in CASES:
        created = capture(client, actors.staff, content=(FIXTURES / name).read_bytes())
        assert created.status_code == 201, created.text


def test_an_extraction_round_stops_starting_documents_when_its_budget_is_spent(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _capture_every_case(client, actors)
    assert _pending(services) == 3
    # A spent budget still lets one document through, so every round makes progress.
    assert extract_pending(services.engine, services.store, budget_seconds=0.0) == 1
    assert _pending(services) == 2
    assert extract_pending(services.engine, services.store, budget_seconds=60.0) == 2
    assert _pending(services) == 0


def test_an_extraction_round_writes_its_outcomes_in_one_commit(
    client: TestClient, actors: Actors, services: Services
) -> None:
    _capture_every_case(client, actors)
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(services.engine, "commit", count)
    try:
        assert extract_pending(services.engine, services.store, budget_seconds=60.0) == 3
    finally:
        event.remove(services.engine, "commit", count)

    assert len(commits) == 1  # every commit waits for the write lock and a log sync
    assert _pending(services) == 0
    with session_scope(services.engine) as session:
        assert len(list(session.exec(select(VersionText)))) == 3
