"""S3-backend guarantees beyond the contract: object lock mirroring, TLS, bucket set-up.

Server-side state is read back with a raw ``minio`` client, so these tests see
what the S3 server holds rather than what the store believes. Tests marked
``minio`` check S3 rules that moto's server does not enforce (see
docs/storage.md); they need a real MinIO and are deselected with
``-m "not minio"``.
"""

from __future__ import annotations

import io
import socket
from datetime import UTC, datetime, timedelta

import pytest
import urllib3
from minio import Minio
from minio.commonconfig import GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention
from pydantic import SecretStr

from records_service.settings import Settings, StorageSettings
from records_service.storage import (
    ObjectLocked,
    ObjectNotFound,
    RetentionMode,
    S3BlobStore,
    StorageUnavailable,
    build_blob_store,
)
from support.s3server import S3ServerInfo

from .backends import PART_SIZE, fresh_bucket_name, make_s3_store
from .streams import MIB, ChunkReader, mib_blocks


def raw_client(info: S3ServerInfo) -> Minio:
    """A plain ``minio`` client on the same server, to inspect what it really holds."""
    return info.raw_client(retries=urllib3.Retry(total=1))


def later(days: float) -> datetime:
    """A moment ``days`` from now, with sub-second digits as callers produce them."""
    return datetime.now(UTC) + timedelta(days=days)


def whole_second_up(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)


def lock_headers(client: Minio, bucket: str, key: str) -> tuple[str | None, str | None]:
    metadata = client.stat_object(bucket, key).metadata or {}
    return (
        metadata.get("x-amz-object-lock-mode"),
        metadata.get("x-amz-object-lock-retain-until-date"),
    )


def version_ids(client: Minio, bucket: str, key: str) -> list[str | None]:
    listing = client.list_objects(bucket, prefix=key, include_version=True)
    return [obj.version_id for obj in listing if obj.object_name == key]


def test_large_put_is_a_multipart_upload(s3_store: S3BlobStore, s3_server: S3ServerInfo) -> None:
    s3_store.put("records/big/v1", ChunkReader(mib_blocks(12)).io)

    etag = raw_client(s3_server).stat_object(s3_store.bucket, "records/big/v1").etag
    # A multipart ETag ends in "-<number of parts>": 12 MiB in 5 MiB parts is three.
    assert etag is not None
    assert etag.endswith("-3")
    assert PART_SIZE == 5 * MIB


def test_content_type_is_kept(s3_store: S3BlobStore) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"%PDF-1.7"), content_type="application/pdf")

    assert s3_store.stat("records/r1/v1").content_type == "application/pdf"


def test_retain_until_on_put_is_mirrored_onto_the_object(
    s3_store: S3BlobStore, s3_server: S3ServerInfo
) -> None:
    until = later(30)

    s3_store.put("records/r1/v1", io.BytesIO(b"kept"), retain_until=until)

    info = s3_store.stat("records/r1/v1")
    assert info.retain_until == whole_second_up(until)
    assert info.retain_until is not None
    assert info.retain_until.tzinfo is not None
    mode, _ = lock_headers(raw_client(s3_server), s3_store.bucket, "records/r1/v1")
    assert mode == "GOVERNANCE"


def test_retain_until_on_a_multipart_put_is_mirrored(s3_store: S3BlobStore) -> None:
    # moto drops lock headers on multipart uploads; the store reads back and re-applies.
    until = later(30)

    s3_store.put("records/big/v1", ChunkReader(mib_blocks(6)).io, retain_until=until)

    assert s3_store.stat("records/big/v1").retain_until == whole_second_up(until)
    with pytest.raises(ObjectLocked):
        s3_store.delete("records/big/v1")


def test_retain_until_in_the_past_is_not_mirrored(s3_store: S3BlobStore) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"x"), retain_until=later(-1))

    assert s3_store.stat("records/r1/v1").retain_until is None
    s3_store.delete("records/r1/v1")
    assert not s3_store.exists("records/r1/v1")


def test_retention_is_extended_but_never_shortened(s3_store: S3BlobStore) -> None:
    first = later(10)
    s3_store.put("records/r1/v1", io.BytesIO(b"x"), retain_until=first)

    s3_store.set_retention("records/r1/v1", later(5), "GOVERNANCE")
    assert s3_store.stat("records/r1/v1").retain_until == whole_second_up(first)

    extended = later(20)
    s3_store.set_retention("records/r1/v1", extended, "GOVERNANCE")
    assert s3_store.stat("records/r1/v1").retain_until == whole_second_up(extended)


def test_compliance_mode_is_never_weakened(s3_store: S3BlobStore, s3_server: S3ServerInfo) -> None:
    s3_store.put("audit/checkpoints/1", io.BytesIO(b"signed"))
    s3_store.set_retention("audit/checkpoints/1", later(10), "COMPLIANCE")

    extended = later(20)
    s3_store.set_retention("audit/checkpoints/1", extended, "GOVERNANCE")

    mode, _ = lock_headers(raw_client(s3_server), s3_store.bucket, "audit/checkpoints/1")
    assert mode == "COMPLIANCE"
    assert s3_store.stat("audit/checkpoints/1").retain_until == whole_second_up(extended)


def test_naive_retention_dates_are_refused(s3_store: S3BlobStore) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"x"))

    with pytest.raises(ValueError, match="timezone"):
        s3_store.set_retention("records/r1/v1", datetime(2099, 1, 1), "GOVERNANCE")


def test_legal_hold_is_reflected_in_stat(s3_store: S3BlobStore) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"x"))
    assert s3_store.stat("records/r1/v1").legal_hold is False

    s3_store.set_legal_hold("records/r1/v1", True)
    assert s3_store.stat("records/r1/v1").legal_hold is True

    s3_store.set_legal_hold("records/r1/v1", False)
    assert s3_store.stat("records/r1/v1").legal_hold is False


def test_delete_under_retention_is_refused_and_content_kept(s3_store: S3BlobStore) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"kept"), retain_until=later(1))

    with pytest.raises(ObjectLocked):
        s3_store.delete("records/r1/v1")

    assert b"".join(s3_store.open("records/r1/v1")) == b"kept"


def test_delete_under_legal_hold_is_refused_until_lifted(s3_store: S3BlobStore) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"held"))
    s3_store.set_legal_hold("records/r1/v1", True)

    with pytest.raises(ObjectLocked):
        s3_store.delete("records/r1/v1")
    assert s3_store.exists("records/r1/v1")

    s3_store.set_legal_hold("records/r1/v1", False)
    s3_store.delete("records/r1/v1")
    assert not s3_store.exists("records/r1/v1")


def test_server_itself_refuses_deleting_a_locked_version(
    s3_store: S3BlobStore, s3_server: S3ServerInfo
) -> None:
    # The store checks locks before deleting; this proves the lock also lives in the server.
    s3_store.put("records/r1/v1", io.BytesIO(b"retained"), retain_until=later(1))
    s3_store.put("records/r2/v1", io.BytesIO(b"held"))
    s3_store.set_legal_hold("records/r2/v1", True)
    s3_store.put("audit/checkpoints/1", io.BytesIO(b"signed"))
    s3_store.set_retention("audit/checkpoints/1", later(1), "COMPLIANCE")
    client = raw_client(s3_server)

    for key in ("records/r1/v1", "records/r2/v1", "audit/checkpoints/1"):
        (version,) = version_ids(client, s3_store.bucket, key)
        with pytest.raises(S3Error) as refused:
            client.remove_object(s3_store.bucket, key, version_id=version)
        assert refused.value.code in {"AccessDenied", "InvalidRequest"}
        assert s3_store.exists(key)


def test_delete_removes_every_version(s3_store: S3BlobStore, s3_server: S3ServerInfo) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"first"))
    client = raw_client(s3_server)
    # A second version, as a lost write-once race would leave behind.
    client.put_object(s3_store.bucket, "records/r1/v1", io.BytesIO(b"second"), 6)
    assert len(version_ids(client, s3_store.bucket, "records/r1/v1")) == 2

    s3_store.delete("records/r1/v1")

    assert version_ids(client, s3_store.bucket, "records/r1/v1") == []
    with pytest.raises(ObjectNotFound):
        s3_store.delete("records/r1/v1")


def test_keys_the_service_cannot_have_written_are_not_listed(
    s3_store: S3BlobStore, s3_server: S3ServerInfo
) -> None:
    s3_store.put("records/r1/v1", io.BytesIO(b"x"))
    client = raw_client(s3_server)
    client.put_object(s3_store.bucket, "records/with space", io.BytesIO(b"x"), 1)

    assert list(s3_store.list()) == ["records/r1/v1"]


def test_store_without_object_lock_ignores_lock_requests(
    s3_server: S3ServerInfo,
) -> None:
    store = make_s3_store(s3_server, object_lock=False)
    store.ensure_bucket()

    store.put("records/r1/v1", io.BytesIO(b"x"), retain_until=later(1))
    store.set_retention("records/r1/v1", later(2), "COMPLIANCE")
    store.set_legal_hold("records/r1/v1", True)

    info = store.stat("records/r1/v1")
    assert store.supports_object_lock is False
    assert (info.retain_until, info.legal_hold) == (None, False)
    store.delete("records/r1/v1")
    assert not store.exists("records/r1/v1")
    with pytest.raises(S3Error):
        raw_client(s3_server).get_object_lock_config(store.bucket)


def test_ensure_bucket_creates_versioned_locked_bucket_once(
    s3_server: S3ServerInfo,
) -> None:
    store = make_s3_store(s3_server)

    store.ensure_bucket()
    store.ensure_bucket()

    client = raw_client(s3_server)
    assert client.get_bucket_versioning(store.bucket).status == "Enabled"
    client.get_object_lock_config(store.bucket)  # raises if the bucket has no object lock


def test_ensure_bucket_refuses_an_existing_bucket_without_object_lock(
    s3_server: S3ServerInfo,
) -> None:
    bucket = fresh_bucket_name()
    raw_client(s3_server).make_bucket(bucket)

    with pytest.raises(StorageUnavailable, match="no object lock configuration"):
        make_s3_store(s3_server, bucket=bucket).ensure_bucket()


def test_check_ready_fails_when_the_bucket_is_missing(s3_server: S3ServerInfo) -> None:
    with pytest.raises(StorageUnavailable, match="does not exist"):
        make_s3_store(s3_server).check_ready()


def test_tls_is_verified_against_the_ca_bundle(s3_server: S3ServerInfo) -> None:
    untrusting = S3BlobStore(
        endpoint=s3_server.endpoint,
        bucket=fresh_bucket_name(),
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        region=s3_server.region,
        ca_bundle=None,  # the public CAs, which never signed the test certificate
    )

    with pytest.raises(StorageUnavailable, match=r"(?i)certificate"):
        untrusting.check_ready()


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = S3BlobStore(
        endpoint=f"127.0.0.1:{port}",
        bucket="records",
        access_key="nobody",
        secret_key="nothing",
        region="us-east-1",
        secure=False,
    )

    with pytest.raises(StorageUnavailable):
        store.check_ready()
    with pytest.raises(StorageUnavailable):
        store.stat("records/r1/v1")


def test_part_size_below_the_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3BlobStore(endpoint="localhost:9000", bucket="records", access_key="a", secret_key="b",
                    part_size=1024)  # fmt: skip


def _s3_settings(info: S3ServerInfo, *, create_bucket: bool) -> Settings:
    storage = StorageSettings(
        backend="s3",
        endpoint=info.endpoint,
        bucket=fresh_bucket_name(),
        access_key=info.access_key,
        secret_key=SecretStr(info.secret_key),
        region=info.region,
        ca_bundle=info.ca_bundle,
        create_bucket=create_bucket,
        part_size=PART_SIZE,
    )
    return Settings(storage=storage)


def test_factory_builds_s3_store_and_creates_its_bucket(s3_server: S3ServerInfo) -> None:
    settings = _s3_settings(s3_server, create_bucket=True)

    store = build_blob_store(settings)

    assert isinstance(store, S3BlobStore)
    assert store.bucket == settings.storage.bucket
    assert store.supports_object_lock is True
    store.check_ready()
    store.put("records/r1/v1", io.BytesIO(b"via settings"))
    assert b"".join(store.open("records/r1/v1")) == b"via settings"


def test_factory_leaves_bucket_creation_off_when_told(s3_server: S3ServerInfo) -> None:
    settings = _s3_settings(s3_server, create_bucket=False)

    store = build_blob_store(settings)

    assert not raw_client(s3_server).bucket_exists(settings.storage.bucket)
    with pytest.raises(StorageUnavailable):
        store.check_ready()


# --- S3 rules moto's server does not enforce: real MinIO only -------------------------


@pytest.mark.minio
def test_minio_reports_the_mirrored_lock_through_the_retention_api(
    minio_store: S3BlobStore, minio_server: S3ServerInfo
) -> None:
    until = later(3 / 24)
    minio_store.put("records/r1/v1", io.BytesIO(b"x"), retain_until=until)

    retention = raw_client(minio_server).get_object_retention(minio_store.bucket, "records/r1/v1")

    assert retention is not None
    assert retention.mode == GOVERNANCE
    assert retention.retain_until_date == whole_second_up(until)


@pytest.mark.minio
@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_minio_refuses_shortening_retention(
    minio_store: S3BlobStore, minio_server: S3ServerInfo, mode: RetentionMode
) -> None:
    minio_store.put("records/r1/v1", io.BytesIO(b"x"))
    minio_store.set_retention("records/r1/v1", later(3 / 24), mode)

    with pytest.raises(S3Error):
        raw_client(minio_server).set_object_retention(
            minio_store.bucket, "records/r1/v1", Retention(mode, later(1 / 24))
        )
    retain_until = minio_store.stat("records/r1/v1").retain_until
    assert retain_until is not None
    assert retain_until > later(2 / 24)


@pytest.mark.minio
def test_minio_refuses_weakening_compliance_to_governance(
    minio_store: S3BlobStore, minio_server: S3ServerInfo
) -> None:
    minio_store.put("records/r1/v1", io.BytesIO(b"x"))
    minio_store.set_retention("records/r1/v1", later(3 / 24), "COMPLIANCE")

    with pytest.raises(S3Error):
        raw_client(minio_server).set_object_retention(
            minio_store.bucket, "records/r1/v1", Retention(GOVERNANCE, later(4 / 24))
        )


@pytest.mark.minio
def test_minio_refuses_a_retain_until_date_in_the_past(
    minio_store: S3BlobStore, minio_server: S3ServerInfo
) -> None:
    minio_store.put("records/r1/v1", io.BytesIO(b"x"))

    with pytest.raises(S3Error):
        raw_client(minio_server).set_object_retention(
            minio_store.bucket, "records/r1/v1", Retention(GOVERNANCE, later(-1))
        )
    assert minio_store.stat("records/r1/v1").retain_until is None


def test_as_file_is_a_temporary_copy_removed_afterwards(s3_store: S3BlobStore) -> None:
    s3_store.put("records/a/v1", io.BytesIO(b"decision record"))
    with s3_store.as_file("records/a/v1") as path:
        assert path.read_bytes() == b"decision record"
    assert not path.exists()
    assert not path.parent.exists()
