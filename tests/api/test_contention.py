"""A writer that cannot get the database's lock in time is told to retry (503 with
``Retry-After``), never a 500, and nothing it began is left behind.

The waits are shortened for the test; the defaults are in ``records_service.db``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from factories import FixedClock, capture, create_contract, make_actors
from records_service import db
from records_service.app import create_app
from records_service.records.models import Record
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.locks import write_lock_held


@pytest.fixture
def impatient_client(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, clock: FixedClock
) -> Iterator[TestClient]:
    """A client of an app whose writers wait 0.3 s for a lock instead of 10 s."""
    monkeypatch.setattr(db, "WRITE_LOCK_WAIT_S", 0.3)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        yield client


@contextmanager
def lock_held(services: Services) -> Iterator[None]:
    """Another connection holds what a capture needs: SQLite's write lock, or on
    PostgreSQL a lock on the records table that conflicts with inserts."""
    engine = services.engine
    if db.is_sqlite(engine):
        with write_lock_held(engine):
            yield
        return
    url = engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as holder:
        holder.execute("LOCK TABLE records IN EXCLUSIVE MODE")
        yield
        holder.rollback()


def _records(services: Services) -> int:
    with db.read_scope(services.engine) as session:
        return session.exec(select(func.count()).select_from(Record)).one()


def test_a_capture_that_cannot_get_the_lock_is_a_503_to_retry(
    impatient_client: TestClient,
) -> None:
    services: Services = impatient_client.app.state.services  # type: ignore[attr-defined]
    actors = make_actors(services)
    assert create_contract(impatient_client, actors.staff).status_code == 201
    with lock_held(services):
        response = capture(impatient_client, actors.staff)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(":database-busy")
    assert _records(services) == 0
    assert list(services.store.list("records/")) == []
    # Once the lock is free, the same request lands.
    assert capture(impatient_client, actors.staff).status_code == 201
