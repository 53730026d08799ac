"""Streams for storage tests: large content produced on demand, and fault injection.

:class:`ChunkReader` turns an iterator of chunks into a ``read(n)`` stream, so
a test can upload many megabytes that never sit in memory at once, and a
generator that raises mid-way simulates a client that drops off during an
upload.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

MIB = 1024 * 1024


class StreamBroke(Exception):
    """Raised by a test stream to simulate an upload that fails part-way."""


class ChunkReader:
    """A binary ``read(n)`` stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self.bytes_read = 0

    @property
    def io(self) -> BinaryIO:
        """This reader, typed as the stream a blob store takes (which only calls ``read``)."""
        return cast(BinaryIO, self)

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes (all that is left for ``size < 0``)."""
        parts = [self._pending]
        have = len(self._pending)
        while size < 0 or have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if size >= 0:
            data, self._pending = data[:size], data[size:]
        else:
            self._pending = b""
        self.bytes_read += len(data)
        return data


def mib_blocks(count: int, *, fail_at: int | None = None, salt: bytes = b"") -> Iterator[bytes]:
    """Yield ``count`` distinct, deterministic 1 MiB blocks; raise before block ``fail_at``."""
    for index in range(count):
        if index == fail_at:
            raise StreamBroke(f"stream failed before block {index}")
        seed = hashlib.sha256(salt + index.to_bytes(8, "big")).digest()
        yield seed * (MIB // len(seed))


def sha256_of(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Hash and count the bytes of ``chunks`` without keeping them."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def gated_blocks(data: bytes, gate: threading.Barrier) -> Iterator[bytes]:
    """Yield half of ``data``, wait at ``gate`` for the other writers, then the rest."""
    middle = len(data) // 2
    yield data[:middle]
    gate.wait(timeout=30)
    yield data[middle:]
