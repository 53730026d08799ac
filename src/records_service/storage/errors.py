"""The one error vocabulary every blob store backend speaks.

Backends translate their client's exceptions into these; callers never see
``minio`` or ``OSError`` details beyond the message.
"""


class StorageError(Exception):
    """Base class for every storage failure."""


class ObjectNotFound(StorageError):
    """The key does not exist in the store."""


class ObjectExists(StorageError):
    """A write was refused because the key is already taken (keys are write-once)."""


class InvalidKey(StorageError):
    """The key is malformed or would escape the store's root."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or refused the request for a non-key reason."""


class StorageFull(StorageUnavailable):
    """The store has no space left (a full disk, or a quota reached)."""


class ObjectLocked(StorageError):
    """The store refused a delete because of retention or a legal hold."""
