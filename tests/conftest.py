"""Shared fixtures: settings, apps, clients, real PostgreSQL and S3 server processes, and
``records-service serve`` processes.

Tests that take ``db_url`` run once on SQLite and once on a real PostgreSQL
cluster started for the session. Each test gets a fresh database copied from a
migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import Actors, FixedClock, make_actors, make_settings
from records_service.app import create_app
from records_service.db import make_engine
from records_service.migrations import upgrade
from records_service.runtime.services import Services
from records_service.settings import IndexSettings, Settings
from support.postgres import PostgresServer, running_postgres
from support.s3server import S3ServerInfo, running_s3_server
from support.server import Serve, serving_for_a_test

TEMPLATE_DB = "records_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session, with a migrated template database."""
    with running_postgres() as server:
        server.create_database(TEMPLATE_DB)
        engine = make_engine(server.url(TEMPLATE_DB))
        upgrade(engine)
        engine.dispose()
        yield server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file to copy per test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "records.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start ``records-service serve`` processes that answer ``/health``; each is
    stopped when the test ends (see tests/support/server.py)."""
    yield from serving_for_a_test()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3ServerInfo]:
    """A real S3-compatible server process (moto, over TLS) for the session."""
    with running_s3_server() as info:
        yield info


def _fresh_pg_database(server: PostgresServer) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "data" / "records.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = _fresh_pg_database(server)
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh migrated SQLite database (for tests that need only the embedded default)."""
    target = tmp_path / "data" / "records.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> FixedClock:
    """A controllable clock, starting at a fixed instant."""
    return FixedClock(datetime(2026, 6, 15, 9, 30, tzinfo=UTC))


@pytest.fixture
def search_engine() -> str:
    """The search engine of ``settings``: the default one, unless a test package asks for
    both (see tests/search/conftest.py)."""
    return "tantivy"


@pytest.fixture
def settings(tmp_path: Path, db_url: str, search_engine: str) -> Settings:
    """Embedded-default settings on the parametrised database and search engine."""
    return make_settings(tmp_path, db_url, index=IndexSettings(engine=search_engine))


@pytest.fixture
def client(
    request: pytest.FixtureRequest, settings: Settings, clock: FixedClock
) -> Iterator[TestClient]:
    """A client of a real app whose lifespan runs (background thread off: tests drain).

    Server exceptions propagate into the test unless it is marked
    ``server_errors_as_responses`` (for tests that inject server faults).
    """
    raise_errors = request.node.get_closest_marker("server_errors_as_responses") is None
    app = create_app(settings, clock=clock, background=False)
    with TestClient(app, raise_server_exceptions=raise_errors) as test_client:
        yield test_client


@pytest.fixture
def services(client: TestClient) -> Services:
    """The services behind ``client``."""
    result: Services = client.app.state.services  # type: ignore[attr-defined]
    return result


@pytest.fixture
def actors(services: Services) -> Actors:
    """One user per role, with bearer headers."""
    return make_actors(services)
