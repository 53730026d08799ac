"""Object lock on the S3 backend (a real S3 server process): retention dates and legal holds.

The server enforces locks by the real clock, so these files end in the future
(the service's own clock stands at 2026-06-15 for the policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import Actors, FixedClock, make_actors, make_settings, s3_storage_settings
from records_service.app import create_app
from records_service.records.sidecars import write_pending_sidecars
from records_service.runtime.services import Services
from records_service.settings import RetentionSettings
from records_service.storage import BlobStore, ObjectLocked, S3BlobStore
from support.retention import run_retention_as_system
from support.s3server import S3ServerInfo

from .casefiles import (
    add_contract,
    add_record,
    closed_2019,
    dispositions,
    run_job,
)


@pytest.fixture
def s3_client(
    tmp_path: Path, sqlite_url: str, s3_server: S3ServerInfo, clock: FixedClock
) -> Iterator[TestClient]:
    # The database does not matter here (the scenario suite covers both); the store does.
    settings = make_settings(
        tmp_path,
        sqlite_url,
        storage=s3_storage_settings(s3_server),
        retention=RetentionSettings(fixity="full"),
    )
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        yield client


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(services.store, S3BlobStore) and services.store.supports_object_lock
    return services


def _keys(record_id: str) -> list[str]:
    return [f"records/{record_id}/v1", f"records/{record_id}/v1.json"]


def _locks(store: BlobStore, record_id: str) -> set[tuple[datetime | None, bool]]:
    return {(info.retain_until, info.legal_hold) for info in map(store.stat, _keys(record_id))}


def _end_of(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _write_sidecars(services: Services) -> int:
    """What the background worker does first after a capture."""
    mode = services.settings.storage.retention_mode
    return write_pending_sidecars(services.engine, services.store, mode=mode)


def test_retention_is_mirrored_extended_never_shortened_and_holds_follow(
    s3_client: TestClient,
) -> None:
    services = _services(s3_client)
    actors: Actors = make_actors(services)
    add_contract(s3_client, actors.staff, "OPCC-2030-040", end_date="2030-12-31")
    spec = add_record(s3_client, actors.staff, "OPCC-2030-040", "specification", "2026-01-05")
    assert _write_sidecars(services) == 1
    report = run_job(s3_client, actors.records_manager)
    assert report["locks_mirrored"] == 1 and report["fixity_failures"] == 0
    assert _locks(services.store, spec) == {(_end_of("2037-01-01"), False)}
    assert run_job(s3_client, actors.records_manager)["locks_mirrored"] == 0

    longer = {"end_date": "2031-12-31"}
    s3_client.patch("/api/contracts/OPCC-2030-040", json=longer, headers=actors.staff)
    assert run_job(s3_client, actors.records_manager)["locks_mirrored"] == 1
    assert _locks(services.store, spec) == {(_end_of("2038-01-01"), False)}
    shorter = {"end_date": "2029-12-31"}
    s3_client.patch("/api/contracts/OPCC-2030-040", json=shorter, headers=actors.staff)
    assert run_job(s3_client, actors.records_manager)["locks_mirrored"] == 0
    assert _locks(services.store, spec) == {(_end_of("2038-01-01"), False)}
    view = s3_client.get(f"/api/records/{spec}/retention", headers=actors.staff).json()
    assert view["retain_until"] == "2035-12-31"  # the policy date moved; the lock did not
    assert view["object_lock"]["retain_until"] == "2037-12-31"

    hold = s3_client.post(
        "/api/retention/holds",
        json={"contract": "OPCC-2030-040", "reference": "FOI-2026-9", "reason": "FOI request"},
        headers=actors.records_manager,
    ).json()
    assert _locks(services.store, spec) == {(_end_of("2038-01-01"), True)}
    late = add_record(s3_client, actors.staff, "OPCC-2030-040", "correspondence", "2026-02-01")
    content, sidecar = _keys(late)
    assert not services.store.stat(content).legal_hold
    assert not services.store.exists(sidecar)  # the worker has not written it yet
    report = run_job(s3_client, actors.records_manager)  # puts the hold on new records too
    assert report["errors"] == [], "a sidecar still to be written is not an error"
    assert services.store.stat(content).legal_hold
    assert _write_sidecars(services) == 1  # the sidecar takes its content's lock
    [(until, held)] = _locks(services.store, late)
    assert held and until is not None and until > datetime.now(UTC)
    with pytest.raises(ObjectLocked):
        services.store.delete(_keys(spec)[0])

    s3_client.post(
        f"/api/retention/holds/{hold['id']}/release",
        json={"reason": "answered"},
        headers=actors.records_manager,
    )
    assert {hold for _, hold in _locks(services.store, spec)} == {False}
    assert {hold for _, hold in _locks(services.store, late)} == {False}


def test_locked_object_leaves_the_disposition_approved_with_an_error(
    s3_client: TestClient,
) -> None:
    services = _services(s3_client)
    actors: Actors = make_actors(services)
    ids = closed_2019(s3_client, actors.staff, "OPCC-2017-041")
    assert _write_sidecars(services) == len(ids)
    run_retention_as_system(services)
    spec = ids["specification"]
    # A lock from an earlier, longer schedule that the store still enforces.
    services.store.set_retention(_keys(spec)[1], _end_of("2040-01-01"), "GOVERNANCE")
    [proposal] = dispositions(s3_client, actors.records_manager, record_id=spec)
    approved = s3_client.post(
        f"/api/retention/dispositions/{proposal['id']}/approve",
        json={"reason": "retention over"},
        headers=actors.records_manager,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert (
        "locked" in approved.json()["error"] and "nothing was deleted" in approved.json()["error"]
    )
    assert all(services.store.exists(key) for key in _keys(spec))
    record = s3_client.get(f"/api/records/{spec}", headers=actors.staff).json()
    assert record["status"] == "active"
    retry = s3_client.post(
        f"/api/retention/dispositions/{proposal['id']}/execute", headers=actors.admin
    )
    assert retry.status_code == 409
    content = s3_client.get(f"/api/records/{spec}/content", headers=actors.reviewer)
    assert content.status_code == 200 and content.content  # survived both attempts
