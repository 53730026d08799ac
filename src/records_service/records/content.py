"""Streaming record content into the blob store while hashing, counting and sniffing.

The service computes the SHA-256 itself as the bytes pass (it never trusts an
ETag), enforces the size limit as it counts, and keeps the first bytes for type
sniffing, all without holding the file in memory.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from records_service.errors import InvalidInput, PayloadTooLarge
from records_service.extraction import sniff_media_type
from records_service.extraction.media_types import DOCX, OLE_STORAGE, OUTLOOK_MSG, ZIP
from records_service.extraction.sniff import ole_media_type
from records_service.storage import BlobStore, read_into

HEAD_BYTES = 8192
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
    store: BlobStore, key: str, source: BinaryIO, *, limit: int, filename: str
) -> StoredContent:
    """Stream ``source`` into ``store`` under ``key``; refuse empty or oversized content.

    The media type is sniffed from the bytes, never taken from the client. On
    any failure nothing remains under ``key``.
    """
    reader = HashingReader(source, limit)
    head = reader.prime()
    if not head:
        raise InvalidInput("the file is empty")
    media_type = sniff_media_type(head, filename)
    store.put(key, reader, content_type=media_type)  # type: ignore[arg-type]
    if media_type == ZIP and source.seekable():
        media_type = _refine_zip(source)
    elif media_type in (OUTLOOK_MSG, OLE_STORAGE) and source.seekable():
        media_type = ole_media_type(source, media_type)
    return StoredContent(key=key, sha256=reader.sha256, size=reader.size, media_type=media_type)


def _refine_zip(source: BinaryIO) -> str:
    """Tell a DOCX from another zip by its directory (its main part may sit past the head)."""
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return ZIP
    return DOCX if "word/document.xml" in names else ZIP
