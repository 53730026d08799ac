"""All or nothing: faults injected into a real store and a real database commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlmodel import select

from factories import Actors, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.records.models import Record, Version
from records_service.records.orphans import find_orphans
from records_service.records.sidecars import pending_count, write_pending_sidecars
from records_service.runtime.services import Services
from support.faults import FaultyStore


def _state(services: Services) -> tuple[int, int, int]:
    with session_scope(services.engine) as session:
        return (
            session.exec(select(func.count()).select_from(Record)).one(),
            session.exec(select(func.count()).select_from(Version)).one(),
            session.exec(select(func.count()).select_from(AuditEntry)).one(),
        )


@contextmanager
def failing_record_commit(services: Services) -> Iterator[None]:
    """Make the commit of the transaction that inserts a record fail (a real commit fault)."""
    state = {"insert_seen": False, "failed": False}

    def watch(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO RECORDS"):
            state["insert_seen"] = True

    def fail_commit(_conn: object) -> None:
        if state["insert_seen"]:
            state["insert_seen"] = False
            state["failed"] = True
            raise RuntimeError("injected fault in commit")

    event.listen(services.engine, "before_cursor_execute", watch)
    event.listen(services.engine, "commit", fail_commit)
    try:
        yield
    finally:
        event.remove(services.engine, "commit", fail_commit)
        event.remove(services.engine, "before_cursor_execute", watch)
    assert state["failed"], "the fault was never injected"


@pytest.fixture
def ready(client: TestClient, actors: Actors) -> None:
    assert create_contract(client, actors.staff).status_code == 201


def test_store_failure_leaves_nothing(
    client: TestClient, actors: Actors, services: Services, ready: None
) -> None:
    """The capture's only put is its content; the sidecar is the worker's."""
    real = services.store
    services.store = FaultyStore(real, fail_put_on=1)
    before = _state(services)
    response = capture(client, actors.staff)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert _state(services) == before
    assert list(real.list("records/")) == []


def test_a_failed_sidecar_write_stays_queued_until_it_succeeds(
    client: TestClient, actors: Actors, services: Services, ready: None
) -> None:
    response = capture(client, actors.staff)
    assert response.status_code == 201
    record_id = response.json()["id"]
    real = services.store
    services.store = FaultyStore(real, fail_put_on=1)

    assert write_pending_sidecars(services.engine, services.store, mode="GOVERNANCE") == 0
    with session_scope(services.engine) as session:
        assert pending_count(session, record_id) == 1
    assert list(real.list("records/")) == [f"records/{record_id}/v1"]

    # The next round (the fault has passed: the wrapper fails only its first put).
    assert write_pending_sidecars(services.engine, services.store, mode="GOVERNANCE") == 1
    with session_scope(services.engine) as session:
        assert pending_count(session) == 0
    assert list(real.list("records/")) == [
        f"records/{record_id}/v1",
        f"records/{record_id}/v1.json",
    ]


def test_failure_mid_stream_leaves_nothing(
    client: TestClient, actors: Actors, services: Services, ready: None
) -> None:
    real = services.store
    services.store = FaultyStore(real, fail_mid_stream=True)
    before = _state(services)
    assert capture(client, actors.staff, content=b"y" * 100_000).status_code == 503
    assert _state(services) == before
    assert list(real.list("records/")) == []


@pytest.mark.server_errors_as_responses
def test_commit_failure_removes_blobs(
    client: TestClient, actors: Actors, services: Services, ready: None
) -> None:
    before = _state(services)
    with failing_record_commit(services):
        response = capture(client, actors.staff)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert _state(services) == before
    assert list(services.store.list("records/")) == []


@pytest.mark.server_errors_as_responses
def test_commit_failure_with_failed_cleanup_leaves_reportable_orphan(
    client: TestClient, actors: Actors, services: Services, ready: None
) -> None:
    real = services.store
    services.store = FaultyStore(real, fail_delete=True)
    with failing_record_commit(services):
        assert capture(client, actors.staff).status_code == 500
    assert _state(services)[:2] == (0, 0)
    orphans = list(real.list("records/"))
    assert len(orphans) == 1, "the content stays as an orphan for the checker"
    report = find_orphans(services.engine, real)
    assert sorted(report.orphan_objects) == sorted(orphans)
    assert report.missing_objects == []
