"""Write-once blob storage: the ``BlobStore`` protocol, its two backends and their errors."""

from records_service.storage.base import (
    BlobInfo,
    BlobStore,
    PutOptions,
    RetentionMode,
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
from records_service.storage.factory import build_blob_store, build_replica_store
from records_service.storage.local import LocalBlobStore
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
    "StorageError",
    "StorageFull",
    "StorageUnavailable",
    "build_blob_store",
    "build_replica_store",
    "read_into",
    "validate_key",
]
