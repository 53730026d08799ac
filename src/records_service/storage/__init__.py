"""Write-once blob storage: the ``BlobStore`` protocol, its two backends and their errors.

:class:`S3BlobStore` is imported on first use: its client libraries (minio,
urllib3) cost each process about 7 MiB, for nothing on the embedded default.
"""

from typing import TYPE_CHECKING, Any

from records_service.storage.base import (
    BlobInfo,
    BlobStore,
    PutOptions,
    RetentionMode,
    StagingStore,
    read_into,
    validate_key,
)
from records_service.storage.errors import (
    InvalidKey,
    ObjectExists,
    ObjectLocked,
    ObjectNotFound,
    StorageError,
    StorageFull,
    StorageUnavailable,
)
from records_service.storage.factory import build_blob_store, build_replica_store, s3_store
from records_service.storage.local import LocalBlobStore

if TYPE_CHECKING:
    from records_service.storage.s3 import S3BlobStore

__all__ = [
    "BlobInfo",
    "BlobStore",
    "InvalidKey",
    "LocalBlobStore",
    "ObjectExists",
    "ObjectLocked",
    "ObjectNotFound",
    "PutOptions",
    "RetentionMode",
    "S3BlobStore",
    "StagingStore",
    "StorageError",
    "StorageFull",
    "StorageUnavailable",
    "build_blob_store",
    "build_replica_store",
    "read_into",
    "s3_store",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    if name == "S3BlobStore":
        from records_service.storage.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
