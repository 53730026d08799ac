"""``build_blob_store``: the one place that turns settings into a blob store.

The backend is picked by the typed ``storage.backend`` setting, never by an
import string. Callers (the app lifespan, the CLI) call this once per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from records_service.storage.local import LocalBlobStore
from records_service.storage.s3 import S3BlobStore

if TYPE_CHECKING:
    from records_service.settings import Settings
    from records_service.storage.base import BlobStore


def build_blob_store(settings: Settings) -> BlobStore:
    """Build the configured blob store.

    For ``s3`` with ``storage.create_bucket`` set, the bucket is created (or
    checked for object lock) now, so this contacts the server and may raise
    ``StorageUnavailable``. The local backend touches nothing until first use.
    """
    match settings.storage.backend:
        case "local":
            return LocalBlobStore(settings.blob_root)
        case "s3":
            store = S3BlobStore.from_settings(settings.storage)
            if settings.storage.create_bucket:
                store.ensure_bucket()
            return store
