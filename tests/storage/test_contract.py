"""The ``BlobStore`` contract: every backend must pass every test here.

The ``store`` fixture (see conftest.py) runs each test on the local backend and
on ``S3BlobStore`` against a real S3 server process.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from records_service.storage import (
    BlobStore,
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
)

from .streams import MIB, ChunkReader, StreamBroke, mib_blocks, sha256_of


def read_all(store: BlobStore, key: str) -> bytes:
    return b"".join(store.open(key))


def test_put_then_open_round_trips_bytes(store: BlobStore) -> None:
    content = b"Grant agreement OPCC-2023-014\n" * 1000

    written = store.put("records/r1/v1", io.BytesIO(content), content_type="text/plain")

    assert written == len(content)
    assert read_all(store, "records/r1/v1") == content
    assert store.stat("records/r1/v1").size == len(content)
    assert store.stat("records/r1/v1").key == "records/r1/v1"


def test_as_file_gives_a_file_with_the_object_bytes(store: BlobStore) -> None:
    content = b"Monitoring return, quarter 3\n" * 500
    store.put("records/r9/v1", io.BytesIO(content))

    with store.as_file("records/r9/v1") as path:
        assert path.read_bytes() == content
    with pytest.raises(ObjectNotFound), store.as_file("records/r9/v2"):
        pass
    assert read_all(store, "records/r9/v1") == content


def test_puts_made_durable_together_are_stored_and_write_once(store: BlobStore) -> None:
    with store.durable_together():
        store.put("records/r9/v1", io.BytesIO(b"content"))
        store.put("records/r9/v1.json", io.BytesIO(b"{}"))
        with pytest.raises(ObjectExists):
            store.put("records/r9/v1", io.BytesIO(b"other"))
    assert read_all(store, "records/r9/v1") == b"content"
    assert read_all(store, "records/r9/v1.json") == b"{}"
    # A block that fails keeps what was put in it; the caller decides what to remove.
    with pytest.raises(RuntimeError, match="after the put"), store.durable_together():
        store.put("records/r10/v1", io.BytesIO(b"kept"))
        raise RuntimeError("after the put")
    assert read_all(store, "records/r10/v1") == b"kept"
    # Each block is its own: a later one works after a failed one.
    with store.durable_together():
        store.put("records/r11/v1", io.BytesIO(b"next"))
    assert store.exists("records/r11/v1")


def test_large_stream_round_trips_without_sitting_in_memory(store: BlobStore) -> None:
    # 12 MiB with 5 MiB parts: three multipart parts on S3, twelve chunks locally.
    reader = ChunkReader(mib_blocks(12))

    written = store.put("records/big/v1", reader.io)

    expected_digest, expected_size = sha256_of(mib_blocks(12))
    assert written == expected_size == 12 * MIB
    assert reader.bytes_read == expected_size
    assert store.stat("records/big/v1").size == expected_size
    assert sha256_of(store.open("records/big/v1")) == (expected_digest, expected_size)


def test_open_yields_bounded_chunks(store: BlobStore) -> None:
    store.put("records/chunks/v1", ChunkReader(mib_blocks(3)).io)

    chunks = list(store.open("records/chunks/v1"))

    assert sum(len(chunk) for chunk in chunks) == 3 * MIB
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= 1 * MIB


def test_empty_stream_stores_an_empty_object(store: BlobStore) -> None:
    written = store.put("records/empty/v1", io.BytesIO(b""))

    assert written == 0
    assert store.exists("records/empty/v1")
    assert store.stat("records/empty/v1").size == 0
    assert read_all(store, "records/empty/v1") == b""


def test_second_put_to_a_key_is_refused_and_original_kept(store: BlobStore) -> None:
    store.put("records/r2/v1", io.BytesIO(b"original"))
    intruder = io.BytesIO(b"replacement")

    with pytest.raises(ObjectExists):
        store.put("records/r2/v1", intruder)

    assert read_all(store, "records/r2/v1") == b"original"
    assert intruder.tell() == 0, "a refused put must not consume the caller's stream"


INVALID_KEYS = [
    "../x",
    "/abs",
    "a//b",
    "a/./b",
    "a/../b",
    "a\x00b",
    "a\nb",
    "tab\there",
    "",
    "a/",
    ".hidden",
    "records/.tmp",
    "spaces are not allowed",
    "x" * 513,
]

OPERATIONS: dict[str, Callable[[BlobStore, str], object]] = {
    "put": lambda store, key: store.put(key, io.BytesIO(b"x")),
    "open": lambda store, key: store.open(key),
    "stat": lambda store, key: store.stat(key),
    "exists": lambda store, key: store.exists(key),
    "delete": lambda store, key: store.delete(key),
}


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
def test_invalid_keys_are_refused_by_every_operation(store: BlobStore, key: str) -> None:
    for name, operation in OPERATIONS.items():
        with pytest.raises(InvalidKey):
            operation(store, key)
            pytest.fail(f"{name} accepted {key!r}")
    assert list(store.list()) == []


@pytest.mark.parametrize("prefix", ["../", "/abs", "a//", "records/../"])
def test_invalid_list_prefixes_are_refused(store: BlobStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        list(store.list(prefix))


@pytest.mark.parametrize("operation", ["open", "stat", "delete"])
def test_missing_key_raises_not_found(store: BlobStore, operation: str) -> None:
    store.put("records/present/v1", io.BytesIO(b"x"))

    with pytest.raises(ObjectNotFound):
        OPERATIONS[operation](store, "records/absent/v1")


def test_lock_calls_on_a_missing_key_raise_not_found(store: BlobStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.set_legal_hold("records/absent/v1", True)
    with pytest.raises(ObjectNotFound):
        store.set_retention(
            "records/absent/v1", datetime.now(UTC) + timedelta(days=1), "GOVERNANCE"
        )


def test_exists_tells_stored_from_absent(store: BlobStore) -> None:
    store.put("records/r3/v1", io.BytesIO(b"x"))

    assert store.exists("records/r3/v1")
    assert not store.exists("records/r3/v2")
    assert not store.exists("records/r3")  # a key prefix is not an object


LAYOUT_KEYS = [
    "records/b/v1",
    "records/a/v1.json",
    "records/a/v10",
    "records/a/v1",
    "records/a-b/v1",
    "records/a/v2",
    "records/a.b/v1",
    "audit/checkpoints/00000001.json",
    "records/A/v1",
]


def test_list_yields_keys_by_prefix_in_lexical_order(store: BlobStore) -> None:
    for key in LAYOUT_KEYS:
        store.put(key, io.BytesIO(key.encode()))

    assert list(store.list()) == sorted(LAYOUT_KEYS)
    assert list(store.list("records/a/")) == [
        "records/a/v1",
        "records/a/v1.json",
        "records/a/v10",
        "records/a/v2",
    ]
    assert list(store.list("records/a")) == sorted(
        key for key in LAYOUT_KEYS if key.startswith("records/a")
    )
    assert list(store.list("records/a/v1")) == [
        "records/a/v1",
        "records/a/v1.json",
        "records/a/v10",
    ]
    assert list(store.list("audit/")) == ["audit/checkpoints/00000001.json"]
    assert list(store.list("nothing/")) == []


def test_delete_removes_the_object(store: BlobStore) -> None:
    store.put("records/r4/v1", io.BytesIO(b"to be disposed"))
    store.put("records/r4/v1.json", io.BytesIO(b"{}"))

    store.delete("records/r4/v1")

    assert not store.exists("records/r4/v1")
    with pytest.raises(ObjectNotFound):
        store.open("records/r4/v1")
    with pytest.raises(ObjectNotFound):
        store.delete("records/r4/v1")
    assert list(store.list("records/r4/")) == ["records/r4/v1.json"]


def test_check_ready_passes_on_a_working_store(store: BlobStore) -> None:
    store.check_ready()
    store.put("records/after-ready/v1", io.BytesIO(b"x"))
    assert list(store.list()) == ["records/after-ready/v1"]


def test_failed_stream_leaves_no_object(store: BlobStore) -> None:
    # Fails after 7 MiB: past the first 5 MiB part, so S3 has a multipart upload open.
    broken = ChunkReader(mib_blocks(12, fail_at=7))

    with pytest.raises(StreamBroke):
        store.put("records/broken/v1", broken.io)

    assert broken.bytes_read > 5 * MIB
    assert not store.exists("records/broken/v1")
    assert list(store.list()) == []
    # The key is still free: a retry of the capture can use it.
    assert store.put("records/broken/v1", io.BytesIO(b"retry")) == 5
    assert read_all(store, "records/broken/v1") == b"retry"


def test_failed_small_stream_leaves_no_object(store: BlobStore) -> None:
    with pytest.raises(StreamBroke):
        store.put("records/broken-small/v1", ChunkReader(mib_blocks(2, fail_at=1)).io)

    assert not store.exists("records/broken-small/v1")
    assert list(store.list()) == []


def test_store_satisfies_the_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)
    assert isinstance(store.supports_object_lock, bool)
