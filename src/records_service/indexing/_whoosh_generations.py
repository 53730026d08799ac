"""Index generations on disk and the pointer file that names the live one.

Layout under the index root::

    index.json        {"generation": "gen-...", "schema_version": 1, "needs_rebuild": false, ...}
    gen-<stamp>-<id>/ one complete Whoosh index per generation
    pointer.lock      held while the pointer is read to decide, or replaced
    rebuild.lock      held for the whole of a rebuild

A rebuild writes a new generation, then replaces ``index.json`` atomically
(write a temp file, fsync, rename), so a reader sees either the old index or
the new one, never a half-built one. This module owns those files; which
generation to build, and when, is the caller's business.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.util import now

from records_service.indexing.base import IndexBusy

POINTER_FILE = "index.json"
_GENERATION_NAME = re.compile(r"^gen-[0-9TZ]+-[0-9a-f]{8}$")
_POLL_SECONDS = 0.05

Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class Pointer:
    """The contents of ``index.json``: which generation is live, and in what state."""

    generation: str
    schema_version: int
    needs_rebuild: bool = False
    reason: str | None = None


def read_pointer(root: Path) -> Pointer | None:
    """The pointer under ``root``, or None if it is missing or cannot be trusted."""
    try:
        raw = json.loads((root / POINTER_FILE).read_text("utf-8"))
        pointer = Pointer(
            generation=str(raw["generation"]),
            schema_version=int(raw["schema_version"]),
            needs_rebuild=bool(raw.get("needs_rebuild", False)),
            reason=raw.get("reason"),
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


def remove_generations(root: Path, keep: set[str]) -> None:
    """Delete every generation directory under ``root`` whose name is not in ``keep``."""
    for child in root.iterdir():
        if child.is_dir() and _GENERATION_NAME.match(child.name) and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def root_lock(root: Path, name: str) -> Any:
    """Whoosh's file lock called ``name`` in the index root (not yet acquired)."""
    return FileStorage(str(root)).lock(name)


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
    """Hold a Whoosh file ``lock``, waiting up to ``timeout`` seconds.

    Whoosh's locks are OS file locks (``fcntl.flock`` on POSIX), so they also
    exclude other processes. Raises :class:`IndexBusy` on timeout, naming ``what``.
    """
    deadline = now() + timeout
    while not lock.acquire(False):
        if now() >= deadline:
            raise IndexBusy(f"{what} is held by another writer; try again later")
        time.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()
