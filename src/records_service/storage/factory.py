"""``build_blob_store``: the one place that turns settings into a blob store.

The backend is picked by the typed ``storage.backend`` setting, never by an
import string. Callers (the app lifespan, the CLI) call this once per process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from records_service.storage.errors import StorageUnavailable
from records_service.storage.local import LocalBlobStore

if TYPE_CHECKING:
    from records_service.settings import Settings, StorageSettings
    from records_service.storage.base import BlobStore
    from records_service.storage.s3 import S3BlobStore

log = logging.getLogger(__name__)


def build_blob_store(settings: Settings) -> BlobStore:
    """Build the configured blob store.

    For ``s3`` with ``storage.create_bucket`` set, the bucket is created (or
    checked for object lock) now, so this contacts the server and may raise
    ``StorageUnavailable``. The local backend touches nothing until first use.
    """
    return _build(settings.storage, settings.blob_root)


def build_replica_store(settings: Settings) -> BlobStore | None:
    """Build the replica blob store, or ``None`` when ``replica.backend`` is ``off``.

    Built like the primary store (same backends, same bucket creation), except that a
    replica that cannot be reached does not stop the service from starting: it is
    logged, copies wait in their queue, and its bucket is created on first use.
    """
    replica = settings.replica
    if replica.backend == "off":
        return None
    storage = replica.as_storage(settings.storage)
    if replica.backend == "local":
        assert replica.local_root is not None  # checked by the settings
        return LocalBlobStore(replica.local_root)
    store = s3_store(storage)
    if storage.create_bucket:
        try:
            store.ensure_bucket()
        except StorageUnavailable as exc:
            log.error("the replica cannot be prepared now (copies wait): %s", exc)
    return store


def _build(storage: StorageSettings, local_root: Path) -> BlobStore:
    match storage.backend:
        case "local":
            return LocalBlobStore(local_root)
        case _:
            store = s3_store(storage)
            if storage.create_bucket:
                store.ensure_bucket()
            return store


def s3_store(storage: StorageSettings) -> S3BlobStore:
    """An S3 store for ``storage``; its client libraries are imported only now."""
    from records_service.storage.s3 import S3BlobStore

    return S3BlobStore.from_settings(storage)
