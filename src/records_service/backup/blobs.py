"""Copying the local blob store into a backup, incrementally, and back again.

Stored objects never change, so an object already in the backup is not copied
again: its manifest entry is carried over from the previous backup once its size
agrees (or, with ``verify_all``, once its bytes hash to it again). New objects
are hashed while they are copied, and made durable all at once by the caller.
Only objects the database snapshot knows go in: content and sidecars of versions
in it, checkpoints it covers (and those its acknowledged losses name), and
everything else in the store (transfer packages).
Objects captured after the snapshot are left for the next backup, so that a
restore never holds content without its catalogue row.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from records_service.audit.rollback import key_size
from records_service.backup.manifest import (
    BLOBS_DIR,
    FileEntry,
    Manifest,
    Role,
    blob_path,
    copy_new,
    sha256_of,
)
from records_service.backup.progress import Bars
from records_service.backup.snapshot import SnapshotFacts
from records_service.records.sidecars import content_key_of
from records_service.storage import LocalBlobStore

RECORDS_PREFIX = "records/"


@dataclass
class BlobCopy:
    """What copying the blobs did: the entries of every object now in the backup."""

    entries: dict[str, FileEntry] = field(default_factory=dict)
    copied: list[str] = field(default_factory=list)
    kept: int = 0
    repaired: int = 0
    newer: int = 0
    problems: list[str] = field(default_factory=list)


def in_snapshot(key: str, facts: SnapshotFacts) -> bool:
    """Whether the object at ``key`` belongs with the database snapshot."""
    if key.startswith(RECORDS_PREFIX):
        return content_key_of(key) in facts.version_hashes
    size = key_size(key)
    if size is None:
        return True
    return size <= facts.audit.log_size or key in facts.lost_checkpoints


def copy_blobs(
    source_root: Path,
    dest_root: Path,
    facts: SnapshotFacts,
    previous: Manifest | None,
    *,
    bars: Bars,
    verify_all: bool,
) -> BlobCopy:
    """Bring the backup's blobs up to date with the snapshot; see the module docstring."""
    source = LocalBlobStore(source_root)
    result = BlobCopy()
    fresh: list[str] = []
    kept: dict[str, int] = {}  # key -> the size of its copy in the backup
    for key in source.list():
        if not in_snapshot(key, facts):
            result.newer += 1
            continue
        size = _file_size(dest_root / key)
        if size is None:
            fresh.append(key)
        else:
            kept[key] = size
    _check_kept(kept, source, dest_root, previous, bars, verify_all, result, fresh)
    _copy_fresh(fresh, source, dest_root, facts, bars, result)
    return result


def _file_size(path: Path) -> int | None:
    """The size of the regular file at ``path``; None if there is none."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _check_kept(
    keys: dict[str, int],
    source: LocalBlobStore,
    dest: Path,
    previous: Manifest | None,
    bars: Bars,
    verify_all: bool,
    result: BlobCopy,
    fresh: list[str],
) -> None:
    """Carry over the entries of objects already copied; damaged copies are copied again."""
    known = previous.files if previous is not None else {}
    suspect: list[str] = []
    for key, size in keys.items():
        entry = known.get(blob_path(key))
        if verify_all or entry is None or entry.size != size:
            suspect.append(key)  # not vouched for by the previous manifest: read it
        else:
            result.entries[blob_path(key)] = entry
    total = sum(keys[key] for key in suspect)
    with bars("checking copied objects", total, "B") as advance:
        for key in suspect:
            digest, size = sha256_of(dest / key, advance)
            entry = known.get(blob_path(key))
            expected = entry.sha256 if entry else sha256_of(source.root / key)[0]
            if digest == expected:
                result.entries[blob_path(key)] = FileEntry(role=Role.BLOB, sha256=digest, size=size)
                continue
            (dest / key).unlink()  # a damaged or half-kept copy: copied again below
            result.repaired += 1
            fresh.append(key)
    result.kept = len(keys) - result.repaired


def _copy_fresh(
    keys: list[str],
    source: LocalBlobStore,
    dest: Path,
    facts: SnapshotFacts,
    bars: Bars,
    result: BlobCopy,
) -> None:
    total = sum(_size(source, key) for key in keys)
    with bars("copying new objects", total, "B") as advance:
        for key in keys:
            try:
                entry = copy_new(source.root / key, dest / key, advance)
            except FileNotFoundError:
                result.problems.append(
                    f"{key}: removed from the store while the backup ran (disposed?); "
                    "it is not in this backup"
                )
                continue
            result.entries[blob_path(key)] = entry
            result.copied.append(blob_path(key))
            recorded = facts.version_hashes.get(key)
            if recorded is not None and recorded != entry.sha256:
                result.problems.append(
                    f"{key}: the stored bytes do not match the SHA-256 the catalogue recorded "
                    "(a fixity failure in the live store); copied as found"
                )


def _size(store: LocalBlobStore, key: str) -> int:
    try:
        return (store.root / key).stat().st_size
    except OSError:
        return 0


def prune(dest_root: Path, keep: set[str]) -> int:
    """Remove files under ``dest_root`` (a directory of the backup) that the manifest does
    not name (objects disposed of since an earlier backup, leftovers of an interrupted
    one), and the directories left empty; return how many files were removed."""
    removed = 0
    root = str(dest_root)
    for directory, _dirs, files in os.walk(root, topdown=False):
        relative = os.path.relpath(directory, root)
        base = dest_root.name if relative == "." else f"{dest_root.name}/{relative}"
        left = len(files)
        for name in files:
            if f"{base}/{name}" not in keep:
                Path(directory, name).unlink()
                removed += 1
                left -= 1
        if directory != root and not left:
            with suppress(OSError):  # a directory that still holds one is kept
                Path(directory).rmdir()
    return removed


__all__ = ["BLOBS_DIR", "BlobCopy", "copy_blobs", "in_snapshot", "prune"]
