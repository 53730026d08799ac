"""Index generations on disk, the pointer file that names the live one, and file locks.

Both engines use this layout under the index root::

    index.json        {"generation": "gen-...", "schema_version": 1, "needs_rebuild": false, ...}
    gen-<stamp>-<id>/ one complete index per generation
    pointer.lock      held while the pointer is read to decide, or replaced
    rebuild.lock      held for the whole of a rebuild

A rebuild writes a new generation, then replaces ``index.json`` atomically
(write a temp file, fsync, rename), so a reader sees either the old index or
the new one, never a half-built one. This module owns those files; which
generation to build, and when, is the caller's business. ``GenerationsIndex`` is
the engines' common base: the rebuild state they report from these files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from records_service.indexing.base import IndexBusy, IndexDamaged, IndexStats, damage_of

POINTER_FILE = "index.json"
REBUILD_LOCK = "rebuild.lock"  # held for the whole of a rebuild, in any process
_GENERATION_NAME = re.compile(r"^gen-[0-9TZ]+-[0-9a-f]{8}$")
_POLL_SECONDS = 0.05

Stamp = tuple[int, int, int]
Live = TypeVar("Live")


@dataclass(frozen=True)
class Pointer:
    """The contents of ``index.json``: which generation is live, and in what state."""

    generation: str
    schema_version: int
    needs_rebuild: bool = False
    reason: str | None = None
    # Pointers written before the field existed were all Whoosh's.
    engine: str = "whoosh"


def read_pointer(root: Path) -> Pointer | None:
    """The pointer under ``root``, or None if it is missing or cannot be trusted."""
    try:
        raw = json.loads((root / POINTER_FILE).read_text("utf-8"))
        pointer = Pointer(
            generation=str(raw["generation"]),
            schema_version=int(raw["schema_version"]),
            needs_rebuild=bool(raw.get("needs_rebuild", False)),
            reason=raw.get("reason"),
            engine=str(raw.get("engine", "whoosh")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # The generation name becomes a path, so a tampered pointer must not escape the root.
    return pointer if _GENERATION_NAME.match(pointer.generation) else None


def write_pointer(root: Path, pointer: Pointer) -> Stamp | None:
    """Atomically replace the pointer under ``root`` and return its new stamp."""
    target = root / POINTER_FILE
    temp = root / f".{POINTER_FILE}.{uuid.uuid4().hex}.tmp"
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(asdict(pointer), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(target)
    _fsync_directory(root)
    return stamp(root)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stamp(root: Path) -> Stamp | None:
    """A cheap fingerprint of the pointer file; it changes whenever the pointer is replaced."""
    try:
        info = (root / POINTER_FILE).stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def new_generation(root: Path) -> tuple[str, Path]:
    """Create an empty directory for a new generation and return its name and path."""
    name = f"gen-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    path = root / name
    path.mkdir()
    return name, path


@contextlib.contextmanager
def rebuilt_generation(root: Path, live: str) -> Iterator[tuple[str, Path]]:
    """A new generation for a rebuild, after removing every one but ``live``; removed
    again if the rebuild fails, leaving ``live`` as it was."""
    remove_generations(root, keep={live})
    name, directory = new_generation(root)
    try:
        yield name, directory
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def swap_pointer(root: Path, pointer: Pointer, lock_timeout: float) -> Stamp | None:
    """Make ``pointer`` the live one, under the pointer lock; returns its stamp."""
    with held_lock(root_lock(root, "pointer.lock"), lock_timeout, "the pointer"):
        return write_pointer(root, pointer)


def remove_generations(root: Path, keep: set[str]) -> None:
    """Delete every generation directory under ``root`` whose name is not in ``keep``."""
    for child in root.iterdir():
        if child.is_dir() and _GENERATION_NAME.match(child.name) and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


class FileLock:
    """An exclusive OS file lock on ``path``: ``flock`` on POSIX, ``msvcrt`` on Windows.

    The lock belongs to the open file, so it also excludes other handles in this
    process, and the OS drops it when the process ends: a crashed holder never
    leaves it behind. (Whoosh's own locks work the same way on the same files.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock if it is free and return True; False if another holder has it."""
        if blocking:
            raise ValueError("use held_lock() to wait for a lock")
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            _lock_fd(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the lock go."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the file releases the lock


def _lock_fd(fd: int) -> None:
    if os.name == "posix":
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]


def root_lock(root: Path, name: str) -> FileLock:
    """The file lock called ``name`` in the index root (not yet acquired)."""
    return FileLock(root / name)


def lock_is_held(root: Path, name: str) -> bool:
    """Whether a writer in any process, this one included, holds the lock ``name`` now.

    Tries the lock without waiting and lets go at once. Locks are released when their
    process ends, so a crashed writer never leaves one behind. A lock file that cannot
    be opened (a missing or read-only index root) counts as not held: the answer only
    informs health reports, which must not fail over it.
    """
    lock = root_lock(root, name)
    try:
        acquired = lock.acquire(False)
    except OSError:
        return False
    if acquired:
        lock.release()
    return not acquired


@contextlib.contextmanager
def held_lock(lock: Any, timeout: float, what: str) -> Iterator[None]:
    """Hold a file ``lock`` (ours, or a Whoosh one), waiting up to ``timeout`` seconds.

    Both are OS file locks, so they also exclude other processes. Raises
    :class:`IndexBusy` on timeout, naming ``what``.
    """
    deadline = time.monotonic() + timeout
    while not lock.acquire(False):
        if time.monotonic() >= deadline:
            raise IndexBusy(f"{what} is held by another writer; try again later")
        time.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class EngineFiles:
    """What :func:`open_live` needs to know of one engine.

    ``open(pointer, directory, stamp)`` opens a generation's files into the engine's
    live state; ``create(directory)`` writes an empty index into a new generation.
    ``also_accepted`` are older schema versions to use as they are rather than reset
    (an index searched only until another engine's replaces it).
    """

    engine: str
    schema_version: int
    open: Callable[[Pointer, Path, Stamp | None], Any]
    create: Callable[[Path], None]
    also_accepted: frozenset[int] = frozenset()


def open_live(root: Path, lock_timeout: float, files: EngineFiles) -> Any:
    """The live generation under ``root``, opened by ``files.open``; or, when there is
    none that can be used, a new empty one flagged ``needs_rebuild`` with the reason.

    A deleted root is made again. Any damage starts afresh: the index is derived.
    """
    root.mkdir(parents=True, exist_ok=True)
    with held_lock(root_lock(root, "pointer.lock"), lock_timeout, "the pointer"):
        pointer = read_pointer(root)
        problem = _problem_with(root, pointer, files)
        if pointer is not None and problem is None:
            try:
                return files.open(pointer, root / pointer.generation, stamp(root))
            except Exception as exc:  # any damage: the index is derived, so start afresh
                problem = f"the index files could not be opened ({exc})"
        return _afresh(root, files, problem or "no index was found")


def start_afresh(root: Path, lock_timeout: float, files: EngineFiles, reason: str) -> Any:
    """Replace the live generation with a new empty one flagged ``needs_rebuild`` for
    ``reason`` (its files were found damaged), opened by ``files.open``. The damaged
    generation is left for the rebuild to remove."""
    with held_lock(root_lock(root, "pointer.lock"), lock_timeout, "the pointer"):
        return _afresh(root, files, reason)


def _afresh(root: Path, files: EngineFiles, reason: str) -> Any:
    name, directory = new_generation(root)
    files.create(directory)
    empty = Pointer(name, files.schema_version, True, reason, files.engine)
    return files.open(empty, directory, write_pointer(root, empty))


def _problem_with(root: Path, pointer: Pointer | None, files: EngineFiles) -> str | None:
    if pointer is None:
        exists = (root / POINTER_FILE).exists()
        return "the index pointer is unreadable" if exists else "no index was found"
    if pointer.engine != files.engine:
        return f"the index was written by another engine ({pointer.engine})"
    accepted = {files.schema_version, *files.also_accepted}
    if pointer.schema_version not in accepted:
        return (
            f"the index has schema version {pointer.schema_version}, "
            f"this release needs {files.schema_version}"
        )
    if not (root / pointer.generation).is_dir():
        return f"the index generation {pointer.generation} is missing"
    return None


class _LiveGeneration(Protocol):
    @property
    def pointer(self) -> Pointer: ...


# After a read-back found the live generation's files whole, further unexpected
# errors within this many seconds are re-raised without reading it all again: a
# read-back reads every stored document, seconds at archive scale.
TRUST_READ_BACK_SECONDS = 60.0

log = logging.getLogger(__name__)


class GenerationsIndex:
    """What an index kept as generations under ``_root`` does the same way on every
    engine: its rebuild state, from the live pointer and the rebuild lock, and
    starting afresh when an error turns out to come from damaged files."""

    _root: Path
    _lock_timeout: float
    _state_lock: threading.Lock
    _live: Any
    _read_back_at: tuple[int, float] | None = None  # (id of the live generation, when)

    def _current(self) -> _LiveGeneration:
        raise NotImplementedError

    def _files(self) -> EngineFiles:
        raise NotImplementedError

    def _read_back(self, live: Any) -> bool:
        """Whether every stored document of ``live`` can be read (the engine's check)."""
        raise NotImplementedError

    def _start_afresh(self, reason: str) -> Any:
        return start_afresh(self._root, self._lock_timeout, self._files(), reason)

    def _reset_if_damaged(self, live: Any, exc: Exception) -> None:
        """Raise :class:`IndexDamaged`, after starting afresh, if ``exc`` came from
        damaged files: the generation is read back, and only if that fails too is it
        damage. Otherwise return (not damage), and trust that answer for
        :data:`TRUST_READ_BACK_SECONDS`."""
        if self._trusted(live):
            return
        if self._read_back(live):
            self._read_back_at = (id(live), time.monotonic())
            return
        cause = damage_of(exc)
        log.error("the search index files are damaged (%s): starting a new index", cause)
        with self._state_lock:
            if self._live is live:
                self._live = self._start_afresh(f"the index files are damaged ({cause})")
        raise IndexDamaged(cause) from exc

    def _trusted(self, live: Any) -> bool:
        last = self._read_back_at
        if last is None or last[0] != id(live):
            return False
        return time.monotonic() - last[1] < TRUST_READ_BACK_SECONDS

    @property
    def needs_rebuild(self) -> bool:
        """True until a complete rebuild has run on an index that was created or reset."""
        return self._current().pointer.needs_rebuild

    @property
    def rebuild_reason(self) -> str | None:
        """Why a rebuild is needed, or None."""
        return self._current().pointer.reason

    def _stats(self, pointer: Pointer, *, doc_count: int, engine: str) -> IndexStats:
        return IndexStats(
            doc_count=doc_count,
            schema_version=pointer.schema_version,
            path=str(self._root),
            needs_rebuild=pointer.needs_rebuild,
            rebuild_reason=pointer.reason,
            # The lock a rebuild holds from start to swap: seen from every process, so
            # a server reports the rebuild its worker (or `reindex`) is running.
            rebuilding=lock_is_held(self._root, REBUILD_LOCK),
            engine=engine,
        )
