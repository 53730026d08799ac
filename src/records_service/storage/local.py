"""``LocalBlobStore``: the write-once blob store on a local directory.

Each key maps to one regular file under the root (``records/<id>/v1`` is
``<root>/records/<id>/v1``). The store owns three promises:

* **Confinement.** Keys are validated, and a key whose path runs through a
  symbolic link is refused, so nothing outside the root is ever read, written
  or deleted.
* **Atomic, never-overwriting writes.** A put streams into a temp file beside
  its key (``.put-*``: a name starting with "." is never a key, so it can
  neither collide with one nor be listed), fsyncs it, makes it read-only and
  publishes it with ``os.link``, which fails if the name is taken, so two
  concurrent writers of one key cannot both win and an existing object is
  never replaced. The directory is fsynced afterwards. Readers never see a
  partial object. A crash mid-put can leave a ``.put-*`` file behind; it holds
  no key and may be removed (:meth:`LocalBlobStore.leftovers` lists them).
* **One error vocabulary.** ``OSError`` becomes the storage errors (a full disk
  or quota, ``StorageFull``).

There is no object lock here: ``set_retention`` and ``set_legal_hold`` only
check that the key exists. The local backend relies on filesystem
permissions (only the service account may write the root) and on the
never-overwrite rule; deletes are left to disposal, which enforces holds in
the service. Content types are not kept (the catalogue and sidecars hold
them), so :meth:`stat` reports ``content_type=None``.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import stat as stat_mode
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Unpack, cast

from records_service.storage.base import (
    KEY_PATTERN,
    BlobInfo,
    PutOptions,
    RetentionMode,
    check_prefix,
    read_into,
    validate_key,
)
from records_service.storage.errors import (
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
    StorageError,
    StorageFull,
    StorageUnavailable,
)

CHUNK_SIZE = 1024 * 1024
# A put copies through one buffer of this size: a 100 KB upload needs one read, and a
# large one fewer than a hundred per 10 MB (docs/benchmarks.md, change 14).
WRITE_BUFFER_SIZE = 256 * 1024
# A name starting with "." is never a valid key segment, so temp files can
# neither collide with a key nor show up in listings.
PUT_PREFIX = ".put-"
PROBE_PREFIX = ".ready-"
# Where earlier versions of this store kept every temp file, at the root.
LEGACY_TEMP_DIR = ".tmp"
READ_ONLY = 0o444


# sync_file_range's flag to start writing dirty pages back without waiting for them.
SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` from the C library, or ``None`` where there is none."""
    function = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], function)


# A write refused for want of space: the disk is full, or the user's quota is reached.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def _os_errors(action: str, key: str) -> Iterator[None]:
    """Translate any ``OSError`` raised inside the block into ``StorageUnavailable``
    (``StorageFull`` when the disk is full)."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise StorageFull(
                f"could not {action} {key!r}: the blob store's disk is full ({exc.strerror})"
            ) from exc
        raise StorageUnavailable(f"could not {action} {key!r}: {exc.strerror or exc}") from exc


def _is_key_segment(name: str) -> bool:
    return "/" not in name and KEY_PATTERN.fullmatch(name) is not None


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: memoryview) -> None:
    """Write all of ``data`` to ``fd`` (a raw write may take only part of it)."""
    while data:
        data = data[os.write(fd, data) :]


def _seal(fd: int, key: str) -> int:
    """Make the finished file open at ``fd`` read-only and durable, before it gets its
    key's name (a put's temp file, or an adopted staging file); return its size."""
    with _os_errors("flush", key):
        os.fchmod(fd, READ_ONLY)
        os.fsync(fd)
        return os.fstat(fd).st_size


def _remove_empty(directories: list[Path]) -> None:
    """Remove directories a failed put made (deepest first), unless something else
    has meanwhile put a file in one."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


def _leftover_files(root: Path, changed_before: float) -> Iterator[str]:
    for directory, _dirs, files in os.walk(root, onerror=_raise_unavailable):
        here = Path(directory)
        legacy = here.relative_to(root).parts[:1] == (LEGACY_TEMP_DIR,)
        for name in files:
            if legacy or name.startswith((PUT_PREFIX, PROBE_PREFIX)):
                path = here / name
                with suppress(FileNotFoundError):  # a write that has just finished
                    if path.lstat().st_mtime < changed_before:
                        yield path.relative_to(root).as_posix()


def _raise_unavailable(error: OSError) -> None:
    raise StorageUnavailable(f"could not walk {error.filename}: {error.strerror}")


def _read_chunks(handle: BinaryIO, key: str) -> Iterator[bytes]:
    with handle, _os_errors("read", key):
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


class LocalBlobStore:
    """A write-once blob store on a directory; see the module docstring for its guarantees."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()
        self._batch = threading.local()  # directories awaiting fsync, per thread

    @contextmanager
    def durable_together(self) -> Iterator[None]:
        """Puts inside the block fsync their files at once and their directories on exit.

        The worker writes a round of sidecars in one block: their directories are
        synced once each, after all their files.
        """
        if getattr(self._batch, "directories", None) is not None:
            raise RuntimeError("durable_together blocks do not nest")
        directories: set[Path] = set()
        self._batch.directories = directories
        try:
            yield
        finally:
            self._batch.directories = None
        with _os_errors("sync", "directories of the batch"):
            # Deepest first: a new directory's own entries before its name in the parent.
            for directory in sorted(directories, key=lambda d: len(d.parts), reverse=True):
                _fsync_directory(directory)

    @property
    def root(self) -> Path:
        """The resolved root directory."""
        return self._root

    @property
    def supports_object_lock(self) -> bool:
        """Always ``False``: a directory cannot enforce retention by itself."""
        return False

    def _path(self, key: str) -> Path:
        """Map ``key`` to its path, refusing keys that would leave the root.

        The root is resolved and keys hold no "." or ".." segments, so only a symbolic
        link at one of the key's own segments could lead out: each is looked at, down
        to the first that does not exist (nothing exists below it). Unlike resolving
        the whole path, this leaves the root's own ancestors alone.
        """
        validate_key(key)
        path = self._root
        walking = True
        for segment in key.split("/"):
            path = path / segment
            if walking:
                walking = self._walk_into(path, key)
        return path

    @staticmethod
    def _walk_into(path: Path, key: str) -> bool:
        """Refuse ``path`` if it is a symbolic link; return whether anything can lie below."""
        try:
            mode = path.lstat().st_mode
        except OSError:  # missing, or unreadable: the operation itself reports it
            return False
        if stat_mode.S_ISLNK(mode):
            raise InvalidKey(f"storage key {key!r} runs through a symbolic link")
        return stat_mode.S_ISDIR(mode)

    def _regular_file_stat(self, path: Path, key: str) -> os.stat_result:
        try:
            info = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"could not stat {key!r}: {exc.strerror}") from exc
        if not stat_mode.S_ISREG(info.st_mode):
            raise ObjectNotFound(key)
        return info

    def put(self, key: str, stream: BinaryIO, **_options: Unpack[PutOptions]) -> int:
        """Store ``stream`` under ``key`` atomically; raise ``ObjectExists`` if taken.

        The options (``content_type``, ``retain_until``) are accepted for the
        protocol and not kept. Exceptions raised by ``stream`` itself propagate unchanged, after the
        temp file is removed.
        """
        target = self._path(key)
        if target.is_file():
            # Fails fast before reading the stream; os.link below is the real guard.
            raise ObjectExists(key)
        with _os_errors("prepare a write for", key):
            created, fd, temp_name = self._temp_beside(target, key)
        temp = Path(temp_name)
        published = False
        try:
            size = self._fill(fd, stream, key)
            self._publish(temp, target, key, created)
            published = True
        finally:
            with suppress(OSError):
                temp.unlink()
            if not published:
                _remove_empty([path for path in created if path != self._root])
        return size

    def staging_file(self) -> tuple[int, str]:
        """A new staging file at the root (a ``.put-*`` file: never a key, and listed by
        :meth:`leftovers` if left behind), for :meth:`adopt`; see ``StagingStore``."""
        with _os_errors("make a staging file under", str(self._root)):
            self._root.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=self._root, prefix=PUT_PREFIX)

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Ask the kernel to start writing ``length`` bytes at ``offset`` of ``fd`` back
        now (``sync_file_range(SYNC_FILE_RANGE_WRITE)``, Linux), so that an upload
        reaches the disk while the rest of it arrives; see ``StagingStore``."""
        start = _sync_file_range()
        if start is not None:
            start(fd, offset, length, SYNC_FILE_RANGE_WRITE)  # a hint: a failure is harmless

    def adopt(self, key: str, path: str) -> int:
        """Publish the staging file ``path`` under ``key`` without copying it: sync it,
        make it read-only and link it, as :meth:`put` does its own temp file. The
        staging name is left for the caller to remove."""
        staged = Path(path)
        if staged.parent != self._root or not staged.name.startswith(PUT_PREFIX):
            raise ValueError(f"{path} is not a staging file of this store")
        target = self._path(key)
        if target.is_file():
            raise ObjectExists(key)
        with _os_errors("prepare a write for", key):
            created = self._make_parents(target.parent, key)
        published = False
        try:
            with _os_errors("open", key):
                fd = os.open(staged, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                size = _seal(fd, key)
            finally:
                os.close(fd)
            self._publish(staged, target, key, created)
            published = True
        finally:
            if not published:
                _remove_empty([path for path in created if path != self._root])
        return size

    def _temp_beside(self, target: Path, key: str) -> tuple[list[Path], int, str]:
        """The directories made for ``target`` and a new temp file beside it.

        Beside the key rather than in one shared temp directory: on ext4, creating
        files in one directory after another's fsyncs cost about twice the kernel
        time of creating them in the (fresh) record directory (docs/benchmarks.md).
        A directory removed by a concurrent failed put is made again, once.
        """
        try:
            return self._make_temp_beside(target, key)
        except FileNotFoundError:
            return self._make_temp_beside(target, key)

    def _make_temp_beside(self, target: Path, key: str) -> tuple[list[Path], int, str]:
        created = self._make_parents(target.parent, key)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=PUT_PREFIX)
        return created, fd, name

    def _fill(self, fd: int, stream: BinaryIO, key: str) -> int:
        """Copy ``stream`` into ``fd`` through one buffer, then fsync; close ``fd``."""
        size = 0
        buffer = bytearray(WRITE_BUFFER_SIZE)
        view = memoryview(buffer)
        try:
            while count := read_into(stream, buffer):
                with _os_errors("write", key):
                    _write_all(fd, view[:count])
                size += count
            _seal(fd, key)
        finally:
            os.close(fd)
        return size

    def _publish(self, temp: Path, target: Path, key: str, created: list[Path]) -> None:
        """Give the finished temp file its key's name without ever replacing a file."""
        with _os_errors("store", key):
            try:
                os.link(temp, target)
            except FileExistsError:
                if target.is_dir():
                    raise InvalidKey(f"storage key {key!r} names a key prefix") from None
                raise ObjectExists(key) from None
            # The new name, and the entries of any new directories, must reach the disk.
            directories = {target.parent, *(path.parent for path in created)}
            batch: set[Path] | None = getattr(self._batch, "directories", None)
            if batch is not None:
                batch.update(directories)
                return
            for directory in directories:
                _fsync_directory(directory)

    def _make_parents(self, directory: Path, key: str) -> list[Path]:
        """Create missing directories down to ``directory``, the root included; return
        the ones created, deepest first."""
        missing: list[Path] = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            if current == self._root:
                break
            current = current.parent
        for path in reversed(missing):
            if path == self._root:  # an unusable root is the store's fault, not the key's
                path.mkdir(parents=True, exist_ok=True)
                continue
            try:
                path.mkdir(exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise InvalidKey(f"storage key {key!r} runs through an existing object") from None
        return missing

    def open(self, key: str) -> Iterator[bytes]:
        """Open ``key`` now (raising ``ObjectNotFound``) and yield its bytes in chunks."""
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidKey(f"storage key {key!r} is a symbolic link") from None
            raise StorageUnavailable(f"could not open {key!r}: {exc.strerror}") from exc
        handle = open(fd, "rb")  # noqa: SIM115 - closed by the chunk generator
        if not stat_mode.S_ISREG(os.fstat(fd).st_mode):
            handle.close()
            raise ObjectNotFound(key)
        return _read_chunks(handle, key)

    @contextmanager
    def as_file(self, key: str) -> Iterator[Path]:
        """The stored file itself (read-only, never to be written): no copy is made."""
        path = self._path(key)
        self._regular_file_stat(path, key)
        yield path

    def stat(self, key: str) -> BlobInfo:
        """Return the size of ``key``; raise ``ObjectNotFound`` if absent."""
        return BlobInfo(key=key, size=self._regular_file_stat(self._path(key), key).st_size)

    def exists(self, key: str) -> bool:
        """Return whether ``key`` is stored (invalid keys raise ``InvalidKey``)."""
        try:
            self._regular_file_stat(self._path(key), key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove ``key``; raise ``ObjectNotFound`` if absent."""
        path = self._path(key)
        self._regular_file_stat(path, key)
        with _os_errors("delete", key):
            try:
                path.unlink()
            except FileNotFoundError:
                raise ObjectNotFound(key) from None
            _fsync_directory(path.parent)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield every key starting with ``prefix``, in lexical order, skipping temp files."""
        check_prefix(prefix)
        directory, _, name_start = prefix.rpartition("/")
        if directory:
            base = self._root.joinpath(*directory.split("/"))
            if base.resolve() != base:
                raise InvalidKey(f"key prefix {prefix!r} runs through a symbolic link")
            return self._walk(base, directory + "/", name_start)
        return self._walk(self._root, "", name_start)

    def _walk(self, directory: Path, key_prefix: str, name_start: str) -> Iterator[str]:
        try:
            with os.scandir(directory) as scan:
                entries = [e for e in scan if e.name.startswith(name_start)]
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageUnavailable(f"could not list {key_prefix!r}: {exc.strerror}") from exc
        # Sorting a directory as "name/" keeps the yielded keys in plain string order
        # ("a.b" < "a/x" < "a0"), because every key below it starts with "name/".
        ranked = sorted(
            (
                (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
                for entry in entries
                if _is_key_segment(entry.name)
            ),
            key=lambda pair: pair[0],
        )
        for rank, entry in ranked:
            if rank.endswith("/"):
                yield from self._walk(Path(entry.path), f"{key_prefix}{entry.name}/", "")
            elif entry.is_file(follow_symlinks=False):
                yield key_prefix + entry.name

    def set_retention(self, key: str, until: datetime, mode: RetentionMode) -> None:
        """Check that ``key`` exists; a directory has no retention to set."""
        self._regular_file_stat(self._path(key), key)

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Check that ``key`` exists; holds are enforced by the service, not the directory."""
        self._regular_file_stat(self._path(key), key)

    def leftovers(self, older_than: timedelta) -> tuple[str, ...]:
        """Temp files that interrupted writes left behind, as paths under the root.

        These are ``.put-*`` and ``.ready-*`` files, and whatever is in the ``.tmp``
        directory of earlier versions, last changed more than ``older_than`` ago
        (younger ones may be writes in progress). They hold no key, are never listed
        and may be removed.
        """
        changed_before = time.time() - older_than.total_seconds()
        return tuple(sorted(_leftover_files(self._root, changed_before)))

    def check_ready(self) -> None:
        """Prove the root can take a durable write now; raise ``StorageUnavailable`` if not."""
        with _os_errors("write a readiness probe under", str(self._root)):
            self._root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self._root, prefix=PROBE_PREFIX)
            try:
                os.write(fd, b"ready")
                os.fsync(fd)
            finally:
                os.close(fd)
                Path(name).unlink()
