"""Streaming an upload into the store: hashing, the size limit and the copy buffer."""

from __future__ import annotations

import hashlib
import io
import tempfile
import tracemalloc
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from records_service.errors import PayloadTooLarge
from records_service.records.content import HEAD_BYTES, HashingReader, store_stream
from records_service.storage import LocalBlobStore, ObjectNotFound
from records_service.storage.local import WRITE_BUFFER_SIZE

MIB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def _content(size: int) -> bytes:
    block = hashlib.sha256(b"records").digest() * (MIB // 32)
    return (block * (size // len(block) + 1))[:size]


def test_readinto_hands_out_the_head_then_the_rest_in_order() -> None:
    content = _content(3 * HEAD_BYTES + 123)
    reader = HashingReader(io.BytesIO(content), limit=len(content))
    assert reader.prime() == content[:HEAD_BYTES]

    buffer = bytearray(HEAD_BYTES // 3)  # smaller than the head read ahead
    parts = []
    while count := reader.readinto(buffer):
        parts.append(bytes(buffer[:count]))

    assert b"".join(parts) == content
    assert reader.size == len(content)
    assert reader.sha256 == hashlib.sha256(content).hexdigest()


def test_a_stream_with_only_read_is_read_that_way(store: LocalBlobStore) -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._inner.read(n)

    content = _content(MIB + 7)
    stored = store_stream(
        store,
        "records/r/v1",
        cast(BinaryIO, ReadOnly(content)),
        limit=2 * MIB,
        filename="a.bin",
    )

    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert b"".join(store.open("records/r/v1")) == content


def test_an_upload_streams_through_one_buffer(store: LocalBlobStore) -> None:
    content = _content(8 * MIB)
    # What the web framework hands over: a spooled file that has rolled over to disk.
    with tempfile.SpooledTemporaryFile(max_size=MIB) as upload:
        upload.write(content)
        upload.seek(0)
        tracemalloc.start()
        try:
            stored = store_stream(
                store, "records/r/v1", cast(BinaryIO, upload), limit=10 * MIB, filename="a.bin"
            )
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert (stored.size, stored.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert peak < 2 * WRITE_BUFFER_SIZE + HEAD_BYTES


def test_the_limit_holds_on_the_buffered_path_and_nothing_is_left(store: LocalBlobStore) -> None:
    content = _content(3 * WRITE_BUFFER_SIZE)
    with pytest.raises(PayloadTooLarge):
        store_stream(
            store, "records/r/v1", io.BytesIO(content), limit=2 * WRITE_BUFFER_SIZE, filename="a"
        )

    with pytest.raises(ObjectNotFound):
        store.stat("records/r/v1")
