"""Fixtures for the web pages: an app on SQLite, users with passwords, signed-in clients.

Most pages do not depend on the database engine (the API suite covers both), so
these tests run on the embedded SQLite default only. Pages whose sorting, counting
or changes to many rows are worked out in SQL take ``module_db_url``: one database
per module and engine, seeded once and shared by the module's tests.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from conftest import TEMPLATE_DB
from factories import FixedClock, make_settings
from records_service.app import create_app
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.postgres import PostgresServer
from web import axe
from web.chromium import chromium
from web.signin import PEOPLE, add_person, sign_in

_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """Note whether a test's body failed (its unchecked pages are then no news)."""
    report = yield
    if getattr(report, "when", None) == "call":
        item.stash[_CALL_FAILED] = bool(getattr(report, "failed", False))
    return report


@pytest.fixture(autouse=True)
def every_page_state_checked_by_axe(request: pytest.FixtureRequest) -> Iterator[None]:
    """A browser test fails if a document it loaded was never checked with axe-core."""
    yield
    missed = axe.unchecked_loads()
    if request.node.get_closest_marker("browser") and not request.node.stash.get(
        _CALL_FAILED, False
    ):
        assert not missed, f"loaded but never checked with axe-core: {missed}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database for one module's tests: on SQLite, then on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("module-db") / "records.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"m_{uuid.uuid4().hex[:12]}"
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def web_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Embedded-default settings in a temporary directory."""
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def web_app_client(web_settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """A client of the real app (background thread off), with no one signed in."""
    app = create_app(web_settings, clock=clock, background=False)
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def web_services(web_app_client: TestClient) -> Services:
    """The services behind the web client, with one user per role (and two of some)."""
    services: Services = web_app_client.app.state.services  # type: ignore[attr-defined]
    for username, roles in PEOPLE.items():
        add_person(services, username, *roles)
    return services


@pytest.fixture
def browser_for(
    web_settings: Settings, web_services: Services, web_app_client: TestClient
) -> Callable[[str], TestClient]:
    """Clients of the same app, one per person, each signed in through the login form."""
    app = web_app_client.app

    def signed_in(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        response = sign_in(client, username)
        assert response.status_code == 303, response.text
        return client

    return signed_in


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright, shared by a module's tests."""
    with chromium() as launched:
        yield launched
