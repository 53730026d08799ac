"""Local-backend guarantees beyond the contract: confinement, races, durability details."""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from records_service.settings import Settings, StorageSettings
from records_service.storage import (
    InvalidKey,
    LocalBlobStore,
    ObjectExists,
    StorageUnavailable,
    build_blob_store,
)
from records_service.storage.local import WRITE_BUFFER_SIZE, _sync_file_range

from .streams import MIB, ChunkReader, StreamBroke, gated_blocks, mib_blocks


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store's root holding a file the store must never touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret").write_bytes(b"not yours")
    return directory


def test_symlinked_directory_inside_the_root_is_refused(
    local_store: LocalBlobStore, outside: Path
) -> None:
    local_store.root.mkdir(parents=True)
    (local_store.root / "records").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidKey):
        local_store.put("records/planted", io.BytesIO(b"escape"))
    with pytest.raises(InvalidKey):
        local_store.open("records/secret")
    with pytest.raises(InvalidKey):
        local_store.delete("records/secret")
    with pytest.raises(InvalidKey):
        list(local_store.list("records/"))

    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"


def test_symlinked_object_is_refused_and_not_listed(
    local_store: LocalBlobStore, outside: Path
) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"real"))
    (local_store.root / "records" / "r1" / "v2").symlink_to(outside / "secret")

    for read in (local_store.open, local_store.stat, local_store.delete):
        with pytest.raises(InvalidKey):
            read("records/r1/v2")
    assert list(local_store.list()) == ["records/r1/v1"]
    assert (outside / "secret").read_bytes() == b"not yours"


def test_a_dangling_symlink_on_the_way_is_refused(
    local_store: LocalBlobStore, tmp_path: Path
) -> None:
    local_store.root.mkdir(parents=True)
    (local_store.root / "records").symlink_to(tmp_path / "nowhere", target_is_directory=True)

    with pytest.raises(InvalidKey):
        local_store.put("records/r1/v1", io.BytesIO(b"escape"))
    assert not (tmp_path / "nowhere").exists()


def test_a_root_reached_through_a_symlink_still_works(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    store = LocalBlobStore(tmp_path / "link" / "blobs")

    store.put("records/r1/v1", io.BytesIO(b"kept"))

    assert b"".join(store.open("records/r1/v1")) == b"kept"
    assert (tmp_path / "real" / "blobs" / "records" / "r1" / "v1").read_bytes() == b"kept"


def _entries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_a_put_leaves_only_its_object_beside_the_key(local_store: LocalBlobStore) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"first"))
    local_store.put("records/r1/v1.json", io.BytesIO(b"{}"))

    assert _entries(local_store.root) == ["records"]
    assert _entries(local_store.root / "records" / "r1") == ["v1", "v1.json"]


def test_a_put_copies_through_one_buffer(local_store: LocalBlobStore, tmp_path: Path) -> None:
    # A new chunk per read left freed chunks in the allocator's per-thread pools: the
    # server's memory rose by several MiB over ten 10 MB uploads (docs/benchmarks.md).
    source = tmp_path / "upload"
    with source.open("wb") as out:
        for block in mib_blocks(8):
            out.write(block)
    with source.open("rb") as stream:
        tracemalloc.start()
        try:
            size = local_store.put("records/big/v1", stream)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert size == 8 * MIB
    assert peak < 2 * WRITE_BUFFER_SIZE
    assert (local_store.root / "records/big/v1").read_bytes() == source.read_bytes()


def test_a_directory_removed_by_another_failed_put_is_made_again(
    local_store: LocalBlobStore,
) -> None:
    # Two puts into one new directory: the first fails and removes the directory
    # it made, at the moment the second has seen it and is about to use it.
    local_store.put("records/r0/v1", io.BytesIO(b"make records/"))
    directory = local_store.root / "records" / "r1"
    real_mkstemp = tempfile.mkstemp
    calls = 0

    def racing_mkstemp(**kwargs: Any) -> tuple[int, str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            directory.rmdir()
        return real_mkstemp(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", racing_mkstemp)
        local_store.put("records/r1/v1", io.BytesIO(b"second"))

    assert calls == 2
    assert b"".join(local_store.open("records/r1/v1")) == b"second"
    assert _entries(directory) == ["v1"]


def test_concurrent_puts_of_one_key_have_exactly_one_winner(local_store: LocalBlobStore) -> None:
    writers = 6
    # Every writer stops half-way until all have started, so their temp files
    # exist side by side and they race for the final name.
    gate = threading.Barrier(writers)
    contents = [bytes([index]) * 300_000 for index in range(writers)]
    outcomes: list[str] = ["unset"] * writers

    def write(index: int) -> None:
        reader = ChunkReader(gated_blocks(contents[index], gate))
        try:
            local_store.put("records/race/v1", reader.io)
            outcomes[index] = "stored"
        except ObjectExists:
            outcomes[index] = "refused"

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused"] * (writers - 1) + ["stored"]
    winner = outcomes.index("stored")
    assert b"".join(local_store.open("records/race/v1")) == contents[winner]
    assert _entries(local_store.root / "records" / "race") == ["v1"]


def test_failed_put_leaves_no_temp_file_and_no_directory(local_store: LocalBlobStore) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"kept"))

    with pytest.raises(StreamBroke):
        local_store.put("records/broken/v1", ChunkReader(mib_blocks(3, fail_at=2)).io)
    with pytest.raises(StreamBroke):
        local_store.put("records/r1/v2", ChunkReader(mib_blocks(3, fail_at=2)).io)

    # The directory the failed put made is gone; the one it found stays, as it was.
    assert _entries(local_store.root / "records") == ["r1"]
    assert _entries(local_store.root / "records" / "r1") == ["v1"]


def test_leftover_temp_files_are_never_listed(local_store: LocalBlobStore) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"x"))
    # What a crash mid-put leaves behind, and a stray dotfile beside an object.
    (local_store.root / "records" / "r1" / ".put-abc123").write_bytes(b"half")
    (local_store.root / "records" / "r1" / ".v2.partial").write_bytes(b"half")

    assert list(local_store.list()) == ["records/r1/v1"]


def test_stored_files_are_read_only(local_store: LocalBlobStore) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"fixed"))

    mode = (local_store.root / "records" / "r1" / "v1").stat().st_mode
    assert stat.S_IMODE(mode) & 0o222 == 0


def test_key_below_an_existing_object_is_refused(local_store: LocalBlobStore) -> None:
    # A directory cannot be both a file and a folder; S3 would allow it, our layout never needs it.
    local_store.put("records/r1", io.BytesIO(b"x"))

    with pytest.raises(InvalidKey):
        local_store.put("records/r1/v1", io.BytesIO(b"y"))
    local_store.put("records/r2/v1", io.BytesIO(b"y"))
    with pytest.raises(InvalidKey):
        local_store.put("records/r2", io.BytesIO(b"z"))
    assert list(local_store.list()) == ["records/r1", "records/r2/v1"]


def test_unusable_root_fails_readiness_and_writes(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.write_bytes(b"a file where the root directory should be")
    store = LocalBlobStore(root)

    with pytest.raises(StorageUnavailable):
        store.check_ready()
    with pytest.raises(StorageUnavailable):
        store.put("records/r1/v1", io.BytesIO(b"x"))
    assert root.read_bytes().startswith(b"a file")


def test_lock_calls_are_accepted_but_not_enforced(local_store: LocalBlobStore) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"x"))
    local_store.set_retention("records/r1/v1", datetime.now(UTC) + timedelta(days=9), "COMPLIANCE")
    local_store.set_legal_hold("records/r1/v1", True)

    info = local_store.stat("records/r1/v1")
    assert local_store.supports_object_lock is False
    assert (info.retain_until, info.legal_hold, info.content_type) == (None, False, None)


def test_factory_builds_local_store_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage=StorageSettings(backend="local"))

    store = build_blob_store(settings)

    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "blobs").resolve()
    store.put("records/r1/v1", io.BytesIO(b"x"))
    assert (tmp_path / "blobs" / "records" / "r1" / "v1").read_bytes() == b"x"


def test_durable_together_blocks_do_not_nest(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    outer = store.durable_together()
    outer.__enter__()
    try:
        with pytest.raises(RuntimeError, match="nest"), store.durable_together():
            pass
    finally:
        outer.__exit__(None, None, None)
    with store.durable_together():  # the outer block's end leaves none open
        store.put("records/r1/v1", io.BytesIO(b"x"))


def test_as_file_is_the_stored_file_itself(local_store: LocalBlobStore) -> None:
    local_store.put("records/a/v1", io.BytesIO(b"decision record"))
    with local_store.as_file("records/a/v1") as path:
        assert path == local_store.root / "records" / "a" / "v1", "no copy is made"
    assert path.read_bytes() == b"decision record", "and it stays after the block"


def test_leftovers_are_old_temp_files_only(local_store: LocalBlobStore) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"kept"))
    record_dir = local_store.root / "records" / "r1"
    legacy = local_store.root / ".tmp"
    legacy.mkdir()
    old = [record_dir / ".put-abc123", local_store.root / ".ready-x1", legacy / "tmpq9"]
    recent = record_dir / ".put-def456"  # may be an upload in progress
    for path in [*old, recent]:
        path.write_bytes(b"half")
    _age(*old, record_dir / "v1", seconds=7200)  # an object is never a leftover
    _age(recent, seconds=60)

    assert local_store.leftovers(timedelta(hours=1)) == (
        ".ready-x1",
        ".tmp/tmpq9",
        "records/r1/.put-abc123",
    )
    assert local_store.leftovers(timedelta(seconds=30)) == (
        ".ready-x1",
        ".tmp/tmpq9",
        "records/r1/.put-abc123",
        "records/r1/.put-def456",
    )
    assert list(local_store.list()) == ["records/r1/v1"]


def _age(*paths: Path, seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def test_adopt_publishes_a_staging_file_as_put_would(local_store: LocalBlobStore) -> None:
    fd, name = local_store.staging_file()
    with open(fd, "wb") as out:
        out.write(b"spooled as it arrived")
    assert local_store.leftovers(timedelta(0)) == (Path(name).name,)  # unpublished: a leftover

    assert local_store.adopt("records/r1/v1", name) == len(b"spooled as it arrived")

    with local_store.as_file("records/r1/v1") as path:
        assert path.stat().st_ino == os.stat(name).st_ino
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert list(local_store.list()) == ["records/r1/v1"]
    Path(name).unlink()  # the caller removes the staging name; the object stays
    assert b"".join(local_store.open("records/r1/v1")) == b"spooled as it arrived"


def test_adopt_never_replaces_and_takes_only_its_own_staging_files(
    local_store: LocalBlobStore, tmp_path: Path
) -> None:
    local_store.put("records/r1/v1", io.BytesIO(b"first"))
    fd, name = local_store.staging_file()
    os.close(fd)
    with pytest.raises(ObjectExists):
        local_store.adopt("records/r1/v1", name)
    assert Path(name).exists()  # still the caller's

    stray = tmp_path / ".put-stray"
    stray.write_bytes(b"not staged here")
    inside = local_store.root / "records" / "r1" / "v1"
    for path in (stray, inside):
        with pytest.raises(ValueError, match="not a staging file"):
            local_store.adopt("records/r2/v1", str(path))
    assert not local_store.exists("records/r2/v1")
    assert not (local_store.root / "records" / "r2").exists()
    assert b"".join(local_store.open("records/r1/v1")) == b"first"


def test_start_writeback_is_only_a_hint_and_never_fails(local_store: LocalBlobStore) -> None:
    fd, name = local_store.staging_file()
    os.write(fd, b"spooled" * 4096)
    local_store.start_writeback(fd, 0, 7 * 4096)  # on Linux, the pages start for the disk
    os.close(fd)
    local_store.start_writeback(fd, 0, 7 * 4096)  # a closed descriptor: nothing happens
    assert local_store.adopt("records/r1/v1", name) == 7 * 4096
    assert sys.platform != "linux" or _sync_file_range() is not None
