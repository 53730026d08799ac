"""The ``BlobStore`` protocol: what every storage backend must do, and nothing more.

Keys are ``/``-separated relative paths made of ``[A-Za-z0-9._-]`` segments
(for example ``records/<uuid>/v1``). Every key is written at most once: a put
to an existing key raises :class:`ObjectExists`. Hashing, size limits and
type sniffing belong to the caller (the capture pipeline), which wraps the
stream it hands to :meth:`BlobStore.put`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, TypedDict, Unpack, runtime_checkable

from records_service.storage.errors import InvalidKey

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
MAX_KEY_LENGTH = 512

RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]


@dataclass(frozen=True)
class BlobInfo:
    """What the store knows about one stored object."""

    key: str
    size: int
    content_type: str | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False


@contextmanager
def temporary_copy(store: BlobStore, key: str) -> Iterator[Path]:
    """``key``'s bytes copied into a private temporary file, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="records-blob-") as directory:
        target = Path(directory) / "content"
        with target.open("wb") as out:
            for chunk in store.open(key):
                out.write(chunk)
        yield target


def read_into(stream: BinaryIO, buffer: bytearray) -> int:
    """Fill ``buffer`` from ``stream`` (at most its length); return the count, 0 at the end.

    Uses the stream's ``readinto`` where it has one, so a caller copying a large
    upload reuses one buffer instead of allocating a new chunk for every read (each
    freed chunk could stay in the allocator's per-thread pools and raise the
    server's memory); a stream with only ``read(n)`` is read that way.
    """
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer))
    data = stream.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def check_prefix(prefix: str) -> None:
    """Raise ``InvalidKey`` unless some valid key could start with ``prefix``."""
    try:
        if prefix:
            validate_key(prefix + "0")
    except InvalidKey:
        raise InvalidKey(f"invalid key prefix: {prefix!r}") from None


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a well-formed store key, else raise ``InvalidKey``."""
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.fullmatch(key):
        raise InvalidKey(f"invalid storage key: {key!r}")
    if any(part in {".", ".."} for part in key.split("/")):
        raise InvalidKey(f"invalid storage key: {key!r}")
    return key


class PutOptions(TypedDict, total=False):
    """The keywords of :meth:`BlobStore.put`, beside the key and the stream."""

    # The object's media type, where the store keeps one; application/octet-stream if left out.
    content_type: str
    # Lock the object until then, where the store supports object lock; None: no lock.
    retain_until: datetime | None


@runtime_checkable
class StagingStore(Protocol):
    """A store that can publish, without a copy, a file written in its own filesystem.

    The local directory store is one: an upload spooled into one of its staging files
    as it arrives is given its key with a link, instead of being copied there by
    :meth:`BlobStore.put`. An object store has no such files.
    """

    def staging_file(self) -> tuple[int, str]:
        """A new, empty staging file: an open descriptor (the caller closes it) and its
        path. The caller removes the path when done with it, published or not."""
        ...

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Start writing a staging file's finished range to the disk now, without
        waiting: :meth:`adopt`'s sync then has less left to wait for. Only a hint."""
        ...

    def adopt(self, key: str, path: str) -> int:
        """Publish the staging file ``path`` under ``key`` and return its size.

        As durable and as atomic as :meth:`BlobStore.put`, and it never replaces an
        object (``ObjectExists``). The file must not be written to afterwards: the
        stored object is that file.
        """
        ...


@runtime_checkable
class BlobStore(Protocol):
    """A write-once object store for record content, sidecars and audit checkpoints."""

    def put(self, key: str, stream: BinaryIO, **options: Unpack[PutOptions]) -> int:
        """Store everything ``stream`` yields under ``key`` and return the byte count.

        The stream is read in chunks until it returns ``b""`` (through ``readinto``
        where it has one, see :func:`read_into`); the whole object is never held
        in memory. The write is atomic: after a failure, ``key`` does not
        exist. Raises ``ObjectExists`` if ``key`` is taken. ``options`` are
        keywords, see :class:`PutOptions`.
        """
        ...

    def durable_together(self) -> AbstractContextManager[None]:
        """A block whose puts (from this thread) are durable once it exits normally.

        Lets a store share the work of making several objects durable, such as a
        local directory's fsync. Until the block exits, a put inside it may be lost
        in a crash; if the block raises, nothing more is synced. Not reentrant.
        """
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """Yield the object's bytes in chunks. Raises ``ObjectNotFound``."""
        ...

    def as_file(self, key: str) -> AbstractContextManager[Path]:
        """A local file with the object's bytes, for the block: a directory store's own
        (read-only) file, or a temporary copy that is removed afterwards. For readers
        that need a path, such as text extraction. Raises ``ObjectNotFound``."""
        ...

    def stat(self, key: str) -> BlobInfo:
        """Return size and lock state of ``key``. Raises ``ObjectNotFound``."""
        ...

    def exists(self, key: str) -> bool:
        """Return whether ``key`` is stored."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (all its versions on a versioned bucket).

        Raises ``ObjectNotFound`` if absent and ``ObjectLocked`` if retention or a
        legal hold forbids it. Only disposal and capture rollback call this.
        """
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield every key that starts with ``prefix``, in lexical order."""
        ...

    def set_retention(self, key: str, until: datetime, mode: RetentionMode) -> None:
        """Extend the object's retain-until date (never shortens it).

        A no-op on stores without object lock; see :attr:`supports_object_lock`.
        """
        ...

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place or lift a legal hold on the object (no-op without object lock)."""
        ...

    @property
    def supports_object_lock(self) -> bool:
        """Whether the store itself enforces retention and legal holds."""
        ...

    def check_ready(self) -> None:
        """Raise ``StorageUnavailable`` unless the store can take reads and writes now."""
        ...
