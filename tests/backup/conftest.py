"""An embedded installation to back up (real SQLite, real local store, the real app), and
what a test compares before and after a restore."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Actors, FixedClock, capture, create_contract, make_actors, make_settings
from records_service.app import create_app
from records_service.audit.keys import ensure_signing_key
from records_service.audit.writer import writer_for
from records_service.cli import main
from records_service.runtime.services import Services
from records_service.settings import AuditSettings, Settings
from records_service.storage import BlobStore
from retention.casefiles import approve_the_proposal
from support.retention import run_retention_as_system

ORIGIN = "opcc.test/audit"
CLOSED = "OPCC-2017-020"


@dataclass
class Live:
    """A running installation: its settings, a client of its app, its services, its users."""

    settings: Settings
    client: TestClient
    services: Services
    actors: Actors

    def capture(self, content: bytes, **fields: str) -> str:
        """Capture a record as staff; return its id."""
        response = capture(self.client, self.actors.staff, content=content, **fields)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def settle(self) -> int:
        """Write the sidecars (background work) and sign a checkpoint; return the log size."""
        self.services.run_background_once()
        writer = writer_for(
            self.settings,
            engine=self.services.engine,
            store=self.services.store,
            clock=self.services.clock,
        )
        written = writer.publish()
        assert written is not None
        return written.tree_size


def embedded_settings(data_dir: Path, database_url: str | None = None) -> Settings:
    """Embedded-default settings in ``data_dir`` (the database inside it by default)."""
    settings = make_settings(
        data_dir.parent,
        database_url or f"sqlite:///{data_dir / 'records.db'}",
        audit=AuditSettings(origin=ORIGIN, verify_processes=1),
    )
    return settings.model_copy(update={"data_dir": data_dir})


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that gives the command line ``settings``."""
    return {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_AUDIT__ORIGIN": ORIGIN,
        "RECORDS_AUDIT__VERIFY_PROCESSES": "1",
    }


def run_cli(settings: Settings, *args: str) -> Result:
    """Run ``records-service ARGS`` in process with ``settings``."""
    return CliRunner().invoke(main, list(args), env=cli_env(settings))


@contextmanager
def running(settings: Settings, clock: FixedClock, actors: Actors | None = None) -> Iterator[Live]:
    """Start the app on ``settings`` (signing key created as by ``init``) with one user of
    each role, or with the ``actors`` of a restored database."""
    ensure_signing_key(settings)
    app = create_app(settings, clock=clock, background=False)
    with TestClient(app) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        yield Live(settings, client, services, actors or make_actors(services))


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str, clock: FixedClock) -> Iterator[Live]:
    """A running installation with a contract and three records (one of two versions),
    their sidecars written and a checkpoint signed."""
    settings = embedded_settings(tmp_path / "data", sqlite_url)
    with running(settings, clock) as installation:
        assert create_contract(installation.client, installation.actors.staff).status_code == 201
        first = installation.capture(b"needs assessment, first draft\n")
        installation.capture(b"specification\n", title="Specification", record_type="specification")
        installation.capture(bytes(range(256)) * 64, filename="scan.bin", title="Scan")
        added = installation.client.post(
            f"/api/records/{first}/versions",
            files={"file": ("needs.txt", b"needs assessment, final\n", "text/plain")},
            headers=installation.actors.staff,
        )
        assert added.status_code == 201, added.text
        installation.settle()
        yield installation


def capture_an_expired_record(live: Live) -> str:
    """Capture a specification of a contract closed in 2019: its retention is over."""
    closed = create_contract(
        live.client,
        live.actors.staff,
        reference=CLOSED,
        status="closed",
        start_date="2016-04-01",
        end_date="2019-03-31",
        closed_on="2019-04-30",
    )
    assert closed.status_code == 201, closed.text
    record = live.capture(
        b"specification, 2016\n",
        record_type="specification",
        contract=CLOSED,
        record_date="2016-01-20",
        title="Specification 2016",
    )
    live.services.run_background_once()  # its sidecar
    return record


def dispose_of(live: Live, record: str) -> None:
    """Have the retention job propose disposing of ``record``, and approve it."""
    run_retention_as_system(live.services)
    actors = live.actors
    approve_the_proposal(live.client, actors.records_manager, record, lister=actors.auditor)


Versions = dict[str, tuple[str, bytes]]  # content key -> (recorded sha256, stored bytes)


def versions(engine: Engine, store: BlobStore) -> Versions:
    """Every catalogued version of a record not disposed of, with its recorded hash and the
    bytes the store holds for it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.storage_key, v.sha256 FROM versions v JOIN records r "
                "ON r.id = v.record_id WHERE r.status NOT IN ('disposed', 'transferred')"
            )
        ).all()
    return {str(key): (str(sha), b"".join(store.open(str(key)))) for key, sha in rows}
