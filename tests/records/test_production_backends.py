"""The production shape: PostgreSQL plus an S3 server process over TLS, end to end."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import (
    Actors,
    FixedClock,
    capture,
    create_contract,
    make_actors,
    make_settings,
    s3_storage_settings,
)
from records_service.app import create_app
from records_service.runtime.services import Services
from support.postgres import PostgresServer
from support.s3server import S3ServerInfo

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def prod_client(
    tmp_path: Path, pg_server: PostgresServer, s3_server: S3ServerInfo, clock: FixedClock
) -> Iterator[TestClient]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f'CREATE DATABASE "{name}" TEMPLATE records_template')
    settings = make_settings(tmp_path, pg_server.url(name), storage=s3_storage_settings(s3_server))
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        yield client
    pg_server.drop_database(name)


def test_capture_version_download_on_postgres_and_s3(prod_client: TestClient) -> None:
    services: Services = prod_client.app.state.services  # type: ignore[attr-defined]
    assert services.engine.dialect.name == "postgresql"
    assert services.settings.storage.backend == "s3"
    actors: Actors = make_actors(services)
    assert create_contract(prod_client, actors.staff).status_code == 201
    pdf = (FIXTURES / "victim-services.pdf").read_bytes()
    record = capture(prod_client, actors.staff, content=pdf, filename="spec.pdf").json()
    docx = (FIXTURES / "commissioning-plan.docx").read_bytes()
    second = prod_client.post(
        f"/api/records/{record['id']}/versions",
        files={"file": ("plan.docx", docx, "application/pdf")},
        headers=actors.staff,
    )
    assert second.status_code == 201, second.text
    for number, content in ((1, pdf), (2, docx)):
        got = prod_client.get(
            f"/api/records/{record['id']}/content?version={number}", headers=actors.reviewer
        )
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(content).hexdigest()
    prefix = f"records/{record['id']}/"
    first, second = sorted(services.store.list(prefix))
    assert first == f"{prefix}v1"
    assert re.fullmatch(rf"{prefix}v2-[0-9a-f]{{12}}", second), "later versions: one key per upload"
    assert services.run_background_once() >= 4  # two sidecars, two extractions, the index
    keys = sorted(services.store.list(prefix))
    assert keys == [first, f"{first}.json", second, f"{second}.json"]
    statuses = prod_client.get(f"/api/records/{record['id']}", headers=actors.staff).json()
    assert [v["text_status"] for v in statuses["versions"]] == ["extracted", "extracted"]
    health = prod_client.get("/health").json()
    assert health["storage"] == {"ok": True, "backend": "s3"}
    assert health["database"]["dialect"] == "postgresql"
