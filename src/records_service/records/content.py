"""Streaming record content into the blob store while hashing, counting and sniffing.

The service computes the SHA-256 itself as the bytes pass (it never trusts an
ETag), enforces the size limit as it counts, and keeps the first bytes for type
sniffing, all without holding the file in memory.

An upload can instead arrive already hashed in an :class:`UploadSpool`: the request's
parser wrote it, as it was received, into a staging file of a store that takes such
files (``StagingStore``, the local directory), and the store publishes that file under
its key with a link. A 10 MB upload is then written once, not written to a temporary
file and copied (docs/architecture.md, "Why the capture path is built as it is").
"""

from __future__ import annotations

import hashlib
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from records_service.errors import InvalidInput, PayloadTooLarge
from records_service.extraction import sniff_media_type
from records_service.extraction.media_types import DOCX, OLE_STORAGE, OUTLOOK_MSG, ZIP
from records_service.extraction.sniff import ole_media_type
from records_service.storage import BlobStore, StagingStore, StorageError, read_into

HEAD_BYTES = 8192
# An upload in a staging file is handed to the disk's writeback every this many bytes.
WRITEBACK_BYTES = 2 * 1024 * 1024
MAX_FILENAME_LENGTH = 255


class HashingReader:
    """A read-only stream that hashes, counts and bounds what passes through it."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._hash = hashlib.sha256()
        self._pending = b""
        self.size = 0
        self.head = b""

    def prime(self) -> bytes:
        """Read the first bytes ahead (for sniffing and the empty check); ``read`` returns them."""
        self._pending = self._source.read(HEAD_BYTES)
        self._take(self._pending)
        self.head = self._pending
        return self.head

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes from the source."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        data = self._source.read(n)
        self._take(data)
        return data

    def readinto(self, buffer: bytearray) -> int:
        """Fill ``buffer`` from the source; return the byte count (0 at the end)."""
        if self._pending:
            count = min(len(self._pending), len(buffer))
            buffer[:count] = self._pending[:count]
            self._pending = self._pending[count:]
            return count
        count = read_into(self._source, buffer)
        self._take(memoryview(buffer)[:count])
        return count

    def _take(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise PayloadTooLarge(f"upload exceeds the limit of {self._limit} bytes")
        self._hash.update(data)

    @property
    def sha256(self) -> str:
        """Hex digest of everything read so far."""
        return self._hash.hexdigest()


class UploadSpool(tempfile.SpooledTemporaryFile[bytes]):
    """An upload's spooled copy: in memory up to ``max_size``, then in a staging file
    of ``store``; hashed as it is written.

    The hash, size and head describe the file only while it is written in order from
    its start, as a request parser writes it; any other write makes the spool an
    ordinary file, copied by :func:`store_stream` like any stream. Once published it
    refuses writes, since the stored object is this very file.
    """

    def __init__(self, store: StagingStore, max_size: int) -> None:
        super().__init__(max_size=max_size)
        self._store = store
        self._digest = hashlib.sha256()
        self.size = 0  # bytes written in order from the start, and hashed
        self.head = b""
        self.in_order = True
        self.staged: str | None = None  # the staging file, once rolled over
        self.published = False
        self._written_back = 0  # bytes of the staging file handed to writeback

    def write(self, data: Any) -> int:
        """Write ``data`` at the current position, hashing it if it extends the file."""
        if self.published:
            raise ValueError("the upload is stored and can no longer change")
        if self.in_order and self.tell() != self.size:
            self.in_order = False
        count = super().write(data)
        if self.in_order:
            self._digest.update(data)
            self.size += count
            if len(self.head) < HEAD_BYTES:
                self.head += bytes(data[: HEAD_BYTES - len(self.head)])
            if self.staged is not None and self.size - self._written_back >= WRITEBACK_BYTES:
                self._write_back()
        return count

    def _write_back(self) -> None:
        """Start the disk writing what has arrived, so that the sync at publishing waits
        for little more than the last chunks."""
        self._file.flush()
        self._store.start_writeback(
            self.fileno(), self._written_back, self.size - self._written_back
        )
        self._written_back = self.size

    def writelines(self, lines: Any) -> None:
        """Write each of ``lines`` as :meth:`write` does."""
        for line in lines:
            self.write(line)

    def truncate(self, size: int | None = None) -> int:
        """Cut the file (it is then no longer what was written in order)."""
        self.in_order = False
        return super().truncate(size)

    def rollover(self) -> None:
        """Move the content from memory into a new staging file of the store, or into a
        plain temporary file if the store cannot make one (its error is then met,
        clearly, when the upload is stored)."""
        if getattr(self, "_rolled", True):
            return
        try:
            fd, self.staged = self._store.staging_file()
        except StorageError:
            super().rollover()
            return
        memory = self._file
        disk = open(fd, "w+b")  # noqa: SIM115 - closed by close()
        try:
            disk.write(memory.getvalue())  # type: ignore[attr-defined]
            disk.seek(memory.tell())
        except BaseException:
            disk.close()
            Path(self.staged).unlink(missing_ok=True)
            self.staged = None
            raise
        self._file = disk
        self._rolled = True

    def close(self) -> None:
        """Close the file and remove the staging name (a published object keeps its own)."""
        try:
            super().close()
        finally:
            if self.staged is not None:
                Path(self.staged).unlink(missing_ok=True)
                self.staged = None

    def __exit__(self, *exc_info: object) -> None:
        # The base class's exit closes its file directly, which would skip close().
        self.close()

    @property
    def sha256(self) -> str:
        """Hex digest of everything written (in order)."""
        return self._digest.hexdigest()

    def publishable_to(self, store: BlobStore) -> bool:
        """Whether ``store`` can take the staging file as it stands."""
        return self.staged is not None and self.in_order and cast(object, store) is self._store

    def publish(self, key: str) -> None:
        """Have the store take the staging file as ``key``'s object; no more writes."""
        if self.staged is None:
            raise ValueError("the upload has no staging file to publish")
        self.flush()
        self.published = True
        try:
            self._store.adopt(key, self.staged)
        except BaseException:
            self.published = False
            raise


@dataclass(frozen=True)
class StoredContent:
    """What was written: the key, its hash, its size and the first bytes."""

    key: str
    sha256: str
    size: int
    media_type: str


def clean_filename(name: str | None) -> str:
    """Validate a client filename: no path parts, no control characters, not empty."""
    if not name or not name.strip():
        raise InvalidInput("the file needs a filename")
    name = unicodedata.normalize("NFC", name)
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise InvalidInput("the filename must not contain path parts ('/', '\\', '..')")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        raise InvalidInput("the filename must not contain control characters")
    if len(name) > MAX_FILENAME_LENGTH:
        raise InvalidInput(f"the filename is longer than {MAX_FILENAME_LENGTH} characters")
    return name


def store_stream(
    store: BlobStore, key: str, source: BinaryIO | UploadSpool, *, limit: int, filename: str
) -> StoredContent:
    """Stream ``source`` into ``store`` under ``key``; refuse empty or oversized content.

    The media type is sniffed from the bytes, never taken from the client. On
    any failure nothing remains under ``key``.
    """
    if isinstance(source, UploadSpool) and source.publishable_to(store):
        return _publish(key, source, limit=limit, filename=filename)
    stream = cast(BinaryIO, source)  # a spool that cannot be published is copied as a file
    reader = HashingReader(stream, limit)
    head = reader.prime()
    if not head:
        raise InvalidInput("the file is empty")
    media_type = sniff_media_type(head, filename)
    store.put(key, reader, content_type=media_type)  # type: ignore[arg-type]
    return _stored(key, stream, media_type, reader.sha256, reader.size)


def _publish(key: str, spool: UploadSpool, *, limit: int, filename: str) -> StoredContent:
    """``store_stream`` for a spool already in the store (past its memory size, so never
    empty): checked, then linked in place."""
    if spool.size > limit:
        raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes")
    media_type = sniff_media_type(spool.head, filename)
    spool.publish(key)
    return _stored(key, cast(BinaryIO, spool), media_type, spool.sha256, spool.size)


def _stored(key: str, source: BinaryIO, media_type: str, sha256: str, size: int) -> StoredContent:
    """The stored content's description, with the media type refined from the whole file
    where its head cannot tell."""
    if media_type == ZIP and source.seekable():
        media_type = _refine_zip(source)
    elif media_type in (OUTLOOK_MSG, OLE_STORAGE) and source.seekable():
        media_type = ole_media_type(source, media_type)
    return StoredContent(key=key, sha256=sha256, size=size, media_type=media_type)


def _refine_zip(source: BinaryIO) -> str:
    """Tell a DOCX from another zip by its directory (its main part may sit past the head)."""
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return ZIP
    return DOCX if "word/document.xml" in names else ZIP
