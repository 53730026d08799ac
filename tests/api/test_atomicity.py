"""All or nothing: faults injected into a real store and a real database commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlmodel import select

from factories import Actors, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.records.models import Record, Version
from records_service.records.orphans import find_orphans
from records_service.services import Services
from records_service.storage import BlobInfo, BlobStore, RetentionMode, StorageUnavailable


class FaultyStore:
    """Wraps a real store and fails at a chosen step (the only fake the suite uses)."""

    def __init__(
        self,
        inner: BlobStore,
        *,
        fail_put_on: int | None = None,
        fail_mid_stream: bool = False,
        fail_delete: bool = False,
    ) -> None:
        self.inner = inner
        self.fail_put_on = fail_put_on
        self.fail_mid_stream = fail_mid_stream
        self.fail_delete = fail_delete
        self.puts = 0

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> int:
        self.puts += 1
        if self.puts == self.fail_put_on:
            raise StorageUnavailable("injected fault on put")
        if self.fail_mid_stream:
            return self.inner.put(key, _Breaking(stream), content_type=content_type)  # type: ignore[arg-type]
        return self.inner.put(key, stream, content_type=content_type, retain_until=retain_until)

    def durable_together(self) -> AbstractContextManager[None]:
        return self.inner.durable_together()

    def open(self, key: str) -> Iterator[bytes]:
        return self.inner.open(key)

    def as_file(self, key: str) -> AbstractContextManager[Path]:
        return self.inner.as_file(key)

    def stat(self, key: str) -> BlobInfo:
        return self.inner.stat(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        if self.fail_delete:
            raise StorageUnavailable("injected fault on delete")
        self.inner.delete(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def set_retention(self, key: str, until: datetime, mode: RetentionMode) -> None:
        self.inner.set_retention(key, until, mode)

    def set_legal_hold(self, key: str, on: bool) -> None:
        self.inner.set_legal_hold(key, on)

    @property
    def supports_object_lock(self) -> bool:
        return self.inner.supports_object_lock

    def check_ready(self) -> None:
        self.inner.check_ready()


class _Breaking:
    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.reads = 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise StorageUnavailable("injected fault mid-stream")
        return self.inner.read(min(n, 10) if n > 0 else 10)


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


@pytest.mark.parametrize("fail_put_on", [1, 2])
def test_store_failure_leaves_nothing(
    client: TestClient, actors: Actors, services: Services, ready: None, fail_put_on: int
) -> None:
    """Put 1 is the content, put 2 the sidecar (after the content landed)."""
    real = services.store
    services.store = FaultyStore(real, fail_put_on=fail_put_on)
    before = _state(services)
    response = capture(client, actors.staff)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert _state(services) == before
    assert list(real.list("records/")) == []


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
    assert len(orphans) == 2, "content and sidecar stay as orphans for the checker"
    report = find_orphans(services.engine, real)
    assert sorted(report.orphan_objects) == sorted(orphans)
    assert report.missing_objects == []
