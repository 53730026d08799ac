"""Fixtures for the storage suite: every backend behind one ``store`` fixture.

``store`` runs each contract test on the local backend and on ``S3BlobStore``
against a real moto server over TLS (the session-scoped ``s3_server`` fixture
of the top-level conftest), with one fresh bucket per test. A third parameter,
``minio``, runs the same tests against a real MinIO named by
``RECORDS_TEST_MINIO_ENDPOINT``; it carries the ``minio`` marker, so
``-m "not minio"`` deselects it where no MinIO is available.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from records_service.storage import BlobStore, LocalBlobStore, S3BlobStore
from support.s3server import S3ServerInfo

from .backends import make_s3_store

MINIO_ENV = "RECORDS_TEST_MINIO_ENDPOINT"


@pytest.fixture
def s3_store(s3_server: S3ServerInfo) -> S3BlobStore:
    """An object-locked ``S3BlobStore`` on its own fresh bucket."""
    store = make_s3_store(s3_server)
    store.ensure_bucket()
    return store


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    """A ``LocalBlobStore`` rooted in a fresh temporary directory."""
    return LocalBlobStore(tmp_path / "blobs")


def _minio_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"minio-marked tests need {name} (run them with -m minio against a MinIO)")
    return value


@pytest.fixture
def minio_server() -> S3ServerInfo:
    """The real MinIO named by ``RECORDS_TEST_MINIO_*``; fails loudly when unset.

    ``RECORDS_TEST_MINIO_SECURE=1`` selects https and ``RECORDS_TEST_MINIO_CA_BUNDLE``
    names a PEM file to trust; the default is plain http.
    """
    ca_bundle = os.environ.get("RECORDS_TEST_MINIO_CA_BUNDLE")
    return S3ServerInfo(
        endpoint=_minio_env(MINIO_ENV),
        access_key=_minio_env("RECORDS_TEST_MINIO_ACCESS_KEY"),
        secret_key=_minio_env("RECORDS_TEST_MINIO_SECRET_KEY"),
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
        region=os.environ.get("RECORDS_TEST_MINIO_REGION", "us-east-1"),
        secure=os.environ.get("RECORDS_TEST_MINIO_SECURE", "0") == "1",
    )


@pytest.fixture
def minio_store(minio_server: S3ServerInfo) -> S3BlobStore:
    """An object-locked ``S3BlobStore`` on a fresh bucket of the real MinIO."""
    store = make_s3_store(minio_server)
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3", pytest.param("minio", marks=pytest.mark.minio)])
def store(request: pytest.FixtureRequest) -> BlobStore:
    """Each backend in turn; the contract tests must pass on all of them."""
    backend: BlobStore = request.getfixturevalue(f"{request.param}_store")
    return backend
