"""The replica: every object under a record is copied after commit through the queue,
fixity checks it, overdue or bad copies become ``missing_replica`` findings, disposal
removes the copies, and the drill: with the primary store lost (or a copy damaged),
every download is served from the replica, logged and audited."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import col, select

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
from records_service.audit.models import AuditEntry
from records_service.cli import main
from records_service.cli.retention import summary_table
from records_service.db import read_scope, session_scope
from records_service.records.models import PendingReplica
from records_service.records.replica import queue_every_record
from records_service.records.sidecars import queued_sidecar
from records_service.retention.job import RunReport
from records_service.runtime.services import Services
from records_service.settings import ReplicaSettings, RetentionSettings, Settings
from records_service.storage import BlobStore, LocalBlobStore
from retention.casefiles import (
    approve_the_proposal,
    closed_2019,
    findings,
    keys,
    run_job,
)
from storage.test_bucket_lost import remove_bucket
from support.s3server import S3ServerInfo


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The embedded default with a local directory replica and full fixity."""
    return make_settings(
        tmp_path,
        db_url,
        replica=ReplicaSettings(backend="local", local_root=tmp_path / "replica"),
        retention=RetentionSettings(fixity="full"),
    )


def _replica(services: Services) -> BlobStore:
    assert services.replica is not None
    return services.replica


def _objects(store: BlobStore) -> list[str]:
    return sorted(store.list("records/"))


def _capture_file(client: TestClient, actors: Actors) -> dict[tuple[str, int], bytes]:
    """Three records, one with a second version; ``(record id, version) -> bytes``."""
    assert create_contract(client, actors.staff).status_code == 201
    sent: dict[tuple[str, int], bytes] = {}
    for n in range(3):
        body = f"monitoring return {n}\n".encode()
        record = capture(client, actors.staff, content=body, filename=f"r{n}.txt").json()
        sent[(record["id"], 1)] = body
    first = next(iter(sent))[0]
    again = client.post(
        f"/api/records/{first}/versions",
        files={"file": ("r0-signed.txt", b"monitoring return 0, signed\n")},
        headers=actors.staff,
    )
    assert again.status_code == 201, again.text
    sent[(first, 2)] = b"monitoring return 0, signed\n"
    return sent


def _replica_reads(services: Services) -> list[dict[str, object]]:
    with read_scope(services.engine) as session:
        rows = session.exec(
            select(AuditEntry.details).where(AuditEntry.action == "record.read_replica")
        )
        return [json.loads(details) for details in rows]


def _download(client: TestClient, actors: Actors, record_id: str, version: int) -> bytes:
    got = client.get(f"/api/records/{record_id}/content?version={version}", headers=actors.reviewer)
    assert got.status_code == 200, got.text
    assert got.headers["etag"] == f'"{hashlib.sha256(got.content).hexdigest()}"'
    return bytes(got.content)


def _damage(root: Path, key: str) -> None:
    path = root / key
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(b"bit rot")


def test_drill_the_primary_store_is_lost_and_every_download_comes_from_the_replica(
    client: TestClient, services: Services, actors: Actors, settings: Settings
) -> None:
    sent = _capture_file(client, actors)
    services.run_background_once()
    primary = services.store
    assert _objects(_replica(services)) == _objects(primary)
    assert len(_objects(primary)) == 8  # four versions and their sidecars
    with read_scope(services.engine) as session:
        assert session.exec(select(PendingReplica)).all() == []
    replica = client.get("/health").json()["replica"]
    assert replica == {
        "ok": True,
        "backend": "local",
        "records_pending": 0,
        "oldest_pending_seconds": None,
    }

    # A damaged primary copy: the good copy is served, and that is audited.
    record_id = next(iter(sent))[0]
    _damage(settings.blob_root, f"records/{record_id}/v1")
    assert _download(client, actors, record_id, 1) == sent[(record_id, 1)]
    [damaged] = _replica_reads(services)
    assert damaged["problem"] == "the primary copy does not match its recorded SHA-256"

    shutil.rmtree(settings.blob_root)
    for (rid, number), body in sent.items():
        assert _download(client, actors, rid, number) == body
    reads = _replica_reads(services)[1:]
    assert len(reads) == len(sent)
    assert {read["problem"] for read in reads} == {"the primary copy is missing"}

    report = run_job(client, actors.records_manager)
    assert (report["fixity_failures"], report["replica_checked"]) == (4, 4)
    assert report["replica_failures"] == 0
    assert not findings(client, actors.records_manager, kind="missing_replica")


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_objects_written_under_a_record_later_are_copied_too(
    client: TestClient, services: Services, actors: Actors
) -> None:
    """Not a fixed list: whatever the sidecar writer puts under a record follows it."""
    record = capture(client, actors.staff, contract=None).json()
    services.run_background_once()
    note = f"records/{record['id']}/change-1"
    with session_scope(services.engine) as session:
        session.add(
            queued_sidecar(
                record_id=record["id"],
                version=1,
                content_key=note,
                body='{"note": "title changed"}',
                clock=services.clock,
            )
        )
    services.run_background_once()
    assert f"{note}.json" in _objects(_replica(services))
    assert _objects(_replica(services)) == _objects(services.store)


@SQLITE_ONLY
def test_overdue_and_bad_copies_are_missing_replica_findings(
    client: TestClient, services: Services, actors: Actors, clock: FixedClock
) -> None:
    record = capture(client, actors.staff, contract=None).json()
    overdue = ("missing_replica", f"missing_replica:record:{record['id']}")
    run_job(client, actors.records_manager)
    assert overdue not in keys(findings(client, actors.records_manager))  # not due yet
    clock.advance(minutes=61)
    assert client.get("/health").json()["replica"]["oldest_pending_seconds"] == 61 * 60
    report = run_job(client, actors.records_manager)
    assert report["replica_overdue"] == 1 and report["replica_checked"] == 0
    table = summary_table(RunReport.model_validate(report))
    [line] = [line for line in table.splitlines() if line.startswith("replica copies")]
    assert line.split(maxsplit=2)[2] == "0 checked, 0 bad or missing, 1 overdue"
    assert overdue in keys(findings(client, actors.records_manager))

    services.run_background_once()
    key = f"records/{record['id']}/v1"
    _replica(services).delete(key)
    report = run_job(client, actors.records_manager)
    assert (report["replica_overdue"], report["replica_failures"]) == (0, 1)
    assert keys(findings(client, actors.records_manager, kind="missing_replica")) == {
        ("missing_replica", f"missing_replica:{key}")
    }


@SQLITE_ONLY
def test_disposal_removes_the_copies_from_the_replica(
    client: TestClient, services: Services, actors: Actors
) -> None:
    ids = closed_2019(client, actors.staff, "OPCC-2017-020")
    spec = ids["specification"]
    services.run_background_once()
    assert _objects(_replica(services))
    run_job(client, actors.records_manager, dry_run=False)
    approve_the_proposal(client, actors.admin, spec, lister=actors.records_manager)
    services.run_background_once()
    assert not [key for key in _objects(_replica(services)) if key.startswith(f"records/{spec}/")]
    assert len(_objects(_replica(services))) == 2 * (len(ids) - 1)


@SQLITE_ONLY
def test_replica_sync_queues_an_archive_for_a_new_replica(
    client: TestClient, services: Services, actors: Actors, settings: Settings
) -> None:
    """A replica added (or replaced by an empty one) after records were captured."""
    sent = _capture_file(client, actors)
    services.run_background_once()
    assert settings.replica.local_root is not None
    shutil.rmtree(settings.replica.local_root)
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_REPLICA__BACKEND": "local",
        "RECORDS_REPLICA__LOCAL_ROOT": str(settings.replica.local_root),
    }
    queued = CliRunner().invoke(main, ["replica", "sync"], env=env)
    assert queued.exit_code == 0, queued.output
    assert queued.output.startswith(f"{len({rid for rid, _ in sent})} records queued")
    services.run_background_once()
    assert _objects(_replica(services)) == _objects(services.store)
    shown = CliRunner().invoke(main, ["replica", "status"], env=env)
    assert shown.output.startswith("records waiting: 0 (0 queued rows)"), shown.output
    unset = CliRunner().invoke(
        main, ["replica", "sync"], env={**env, "RECORDS_REPLICA__BACKEND": "off"}
    )
    assert unset.exit_code == 1 and "no replica is configured" in unset.output


@pytest.fixture
def s3_replica_client(
    tmp_path: Path, sqlite_url: str, s3_server: S3ServerInfo, clock: FixedClock
) -> Iterator[TestClient]:
    """A local primary store with its replica on another bucket of the S3 server."""
    bucket = s3_storage_settings(s3_server, bucket=f"replica-{uuid.uuid4().hex[:12]}")
    replica = ReplicaSettings(
        backend="s3",
        endpoint=bucket.endpoint,
        bucket=bucket.bucket,
        access_key=bucket.access_key,
        secret_key=bucket.secret_key,
        region=bucket.region,
        ca_bundle=bucket.ca_bundle,
    )
    settings = make_settings(tmp_path, sqlite_url, replica=replica)
    with TestClient(create_app(settings, clock=clock, background=False)) as test_client:
        yield test_client


def test_drill_with_an_s3_replica(s3_replica_client: TestClient, s3_server: S3ServerInfo) -> None:
    client = s3_replica_client
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    actors = make_actors(services)
    sent = _capture_file(client, actors)
    services.run_background_once()
    assert _objects(_replica(services)) == _objects(services.store)
    # The replica's bucket is lost, and refilled: created again by the copy step.
    remove_bucket(s3_server, services.settings.replica.bucket)
    with session_scope(services.engine) as session:
        queue_every_record(session, services.clock())
    services.run_background_once()
    assert _objects(_replica(services)) == _objects(services.store)
    assert isinstance(services.store, LocalBlobStore)
    for key in _objects(services.store):
        os.remove(services.store.root / key)
    for (rid, number), body in sent.items():
        assert _download(client, actors, rid, number) == body
    assert len(_replica_reads(services)) == len(sent)
    with read_scope(services.engine) as session:
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.idx))).all()
    assert actions.count("record.read_replica") == actions.count("record.read") == len(sent)
