"""Builders for the stores under test, shared by the fixtures and the S3 tests."""

from __future__ import annotations

import itertools
import os

from records_service.storage import S3BlobStore
from support.s3server import S3ServerInfo

PART_SIZE = 5 * 1024 * 1024

_bucket_numbers = itertools.count(1)


def fresh_bucket_name() -> str:
    """A bucket name not used before in this test session."""
    return f"records-test-{os.getpid()}-{next(_bucket_numbers)}"


def make_s3_store(
    info: S3ServerInfo, *, bucket: str | None = None, object_lock: bool = True
) -> S3BlobStore:
    """An ``S3BlobStore`` on the given server, without touching the network."""
    return S3BlobStore(
        endpoint=info.endpoint,
        bucket=bucket or fresh_bucket_name(),
        access_key=info.access_key,
        secret_key=info.secret_key,
        region=info.region,
        secure=info.secure,
        ca_bundle=info.ca_bundle,
        object_lock=object_lock,
        part_size=PART_SIZE,
    )
