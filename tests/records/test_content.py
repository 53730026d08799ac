"""Streaming an upload into the store: hashing, the size limit and the copy buffer, and
publishing an upload spooled into the store's own staging file."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from records_service.errors import PayloadTooLarge
from records_service.records.content import (
    HEAD_BYTES,
    HashingReader,
    UploadSpool,
    store_stream,
)
from records_service.storage import (
    LocalBlobStore,
    ObjectExists,
    ObjectNotFound,
    StorageError,
)
from records_service.storage.local import PUT_PREFIX, WRITE_BUFFER_SIZE

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


def _spooled(store: LocalBlobStore, content: bytes, *, max_size: int = MIB) -> UploadSpool:
    """An upload spool written as a request parser writes it, then rewound."""
    spool = UploadSpool(store, max_size)
    for start in range(0, len(content), 64 * 1024):
        spool.write(content[start : start + 64 * 1024])
    spool.seek(0)
    return spool


def test_a_large_upload_is_published_from_its_staging_file_without_a_copy(
    store: LocalBlobStore,
) -> None:
    content = _content(3 * MIB + 5)
    with _spooled(store, content) as spool:
        assert spool.staged is not None
        staged = Path(spool.staged)
        assert staged.parent == store.root and staged.name.startswith(PUT_PREFIX)
        inode = staged.stat().st_ino

        stored = store_stream(store, "records/r/v1", spool, limit=4 * MIB, filename="a.bin")

        with store.as_file("records/r/v1") as path:
            assert path.stat().st_ino == inode  # the very file, linked
            assert path.stat().st_mode & 0o777 == 0o444
        with pytest.raises(ValueError, match="can no longer change"):
            spool.write(b"late")
    assert (stored.size, stored.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert not staged.exists()  # the staging name is gone, the object stays
    assert b"".join(store.open("records/r/v1")) == content
    assert store.leftovers(timedelta(0)) == ()


def test_a_small_upload_stays_in_memory_and_is_copied(store: LocalBlobStore) -> None:
    content = _content(MIB // 2)
    with _spooled(store, content) as spool:
        assert spool.staged is None
        stored = store_stream(store, "records/r/v1", spool, limit=MIB, filename="a.bin")
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert b"".join(store.open("records/r/v1")) == content


def test_a_spool_written_out_of_order_is_copied_as_it_stands(store: LocalBlobStore) -> None:
    content = _content(2 * MIB)
    with _spooled(store, content) as spool:
        spool.seek(10)
        spool.write(b"changed")  # the running hash no longer describes the file
        spool.seek(0)
        assert not spool.publishable_to(store)
        stored = store_stream(store, "records/r/v1", spool, limit=4 * MIB, filename="a.bin")
    expected = content[:10] + b"changed" + content[17:]
    assert stored.sha256 == hashlib.sha256(expected).hexdigest()
    assert b"".join(store.open("records/r/v1")) == expected


def test_a_spool_goes_only_to_the_store_that_staged_it(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    other = LocalBlobStore(tmp_path / "other")
    content = _content(2 * MIB)
    with _spooled(store, content) as spool:
        stored = store_stream(other, "records/r/v1", spool, limit=4 * MIB, filename="a.bin")
        assert spool.staged is not None and Path(spool.staged).exists()  # copied, not taken
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert b"".join(other.open("records/r/v1")) == content


def test_the_limit_holds_on_the_staged_path_and_nothing_is_left(store: LocalBlobStore) -> None:
    content = _content(2 * MIB)
    with _spooled(store, content) as spool, pytest.raises(PayloadTooLarge):
        store_stream(store, "records/r/v1", spool, limit=2 * MIB - 1, filename="a.bin")
    assert not store.exists("records/r/v1")
    assert store.leftovers(timedelta(0)) == ()


def test_a_taken_key_is_refused_and_the_spool_can_still_be_stored(store: LocalBlobStore) -> None:
    store.put("records/r/v1", io.BytesIO(b"first"))
    content = _content(2 * MIB)
    with _spooled(store, content) as spool:
        with pytest.raises(ObjectExists):
            store_stream(store, "records/r/v1", spool, limit=4 * MIB, filename="a.bin")
        assert not spool.published
        store_stream(store, "records/r/v2", spool, limit=4 * MIB, filename="a.bin")
    assert b"".join(store.open("records/r/v1")) == b"first"
    assert b"".join(store.open("records/r/v2")) == content


def test_a_store_that_cannot_stage_leaves_the_spool_an_ordinary_file(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_bytes(b"")
    store = LocalBlobStore(blocked)
    content = _content(2 * MIB)
    with _spooled(store, content) as spool:
        assert spool.staged is None and not spool.publishable_to(store)
        assert spool.read() == content
        spool.seek(0)
        with pytest.raises(StorageError):
            store_stream(store, "records/r/v1", spool, limit=4 * MIB, filename="a.bin")


def test_a_spool_read_part_way_and_written_on_in_order_is_still_published(
    store: LocalBlobStore,
) -> None:
    content = _content(5 * MIB + 3)
    with UploadSpool(store, MIB) as spool:
        spool.write(content[: 3 * MIB])
        for start in range(3 * MIB, 4 * MIB, 4096):
            spool.write(content[start : start + 4096])
        spool.seek(0)
        assert spool.read() == content[: 4 * MIB]
        spool.write(content[4 * MIB :])  # in order again, at the end
        assert spool.sha256 == hashlib.sha256(content).hexdigest()
        spool.seek(0)
        stored = store_stream(store, "records/r/v1", spool, limit=6 * MIB, filename="a.bin")
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert b"".join(store.open("records/r/v1")) == content


class _ReadOnlyStaging(LocalBlobStore):
    """Fault injection: staging files that refuse writes (as a full disk would)."""

    def staging_file(self) -> tuple[int, str]:
        fd, name = super().staging_file()
        os.close(fd)
        return os.open(name, os.O_RDONLY), name


def test_a_roll_over_that_cannot_write_is_raised_and_never_published(
    tmp_path: Path,
) -> None:
    store = _ReadOnlyStaging(tmp_path / "blobs")
    spool = UploadSpool(store, MIB)
    try:
        spool.write(_content(MIB // 2))
        with pytest.raises(OSError):  # the roll-over's copy into the staging file
            for _ in range(8):
                spool.write(_content(MIB // 2))
            spool.seek(0)
        assert not spool.publishable_to(store)
    finally:
        spool.close()
    assert store.leftovers(timedelta(0)) == ()


def test_writelines_is_hashed_and_truncate_makes_the_spool_a_plain_file(
    store: LocalBlobStore,
) -> None:
    lines = [_content(MIB // 2)] * 4
    with UploadSpool(store, MIB) as spool:
        spool.writelines(lines)
        assert spool.publishable_to(store)
        assert spool.sha256 == hashlib.sha256(b"".join(lines)).hexdigest()
        spool.truncate(MIB)
        assert not spool.publishable_to(store)
        spool.seek(0)
        stored = store_stream(store, "records/r/v1", spool, limit=4 * MIB, filename="a.bin")
    assert stored.sha256 == hashlib.sha256(b"".join(lines)[:MIB]).hexdigest()
