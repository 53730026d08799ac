"""A bucket lost while the service runs is created again (it used to stay missing, and
every capture answered 503 until a restart)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import (
    FixedClock,
    assert_problem,
    capture,
    make_actors,
    make_settings,
    s3_storage_settings,
)
from records_service.app import create_app
from records_service.runtime.services import Services
from support.s3server import S3ServerInfo

from .test_s3 import raw_client


@pytest.fixture
def s3_client(
    tmp_path: Path, sqlite_url: str, s3_server: S3ServerInfo, clock: FixedClock
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, sqlite_url, storage=s3_storage_settings(s3_server))
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        yield client


def remove_bucket(info: S3ServerInfo, bucket: str) -> None:
    client = raw_client(info)
    for obj in client.list_objects(bucket, recursive=True, include_version=True):
        assert obj.object_name is not None
        client.remove_object(bucket, obj.object_name, version_id=obj.version_id)
    client.remove_bucket(bucket)


@pytest.mark.server_errors_as_responses
def test_a_lost_bucket_is_created_again_while_running(
    s3_client: TestClient, s3_server: S3ServerInfo
) -> None:
    services: Services = s3_client.app.state.services  # type: ignore[attr-defined]
    actors = make_actors(services)
    assert capture(s3_client, actors.staff, contract=None).status_code == 201
    bucket = services.settings.storage.bucket
    remove_bucket(s3_server, bucket)
    assert not raw_client(s3_server).bucket_exists(bucket)

    # The capture that finds it gone has already read its upload: it fails, retryably.
    lost = capture(s3_client, actors.staff, contract=None)
    assert_problem(lost, 503)
    assert raw_client(s3_server).bucket_exists(bucket)
    assert raw_client(s3_server).get_object_lock_config(bucket) is not None
    assert capture(s3_client, actors.staff, contract=None).status_code == 201

    remove_bucket(s3_server, bucket)
    assert s3_client.get("/health").json()["storage"]["ok"] is True
    assert raw_client(s3_server).bucket_exists(bucket)
