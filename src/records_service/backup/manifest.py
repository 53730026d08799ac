"""The manifest of a backup directory: every file with its SHA-256, and the snapshot's facts.

``manifest.json`` is written last, atomically, so a directory whose manifest is
there holds a finished backup. Paths in it are relative to the backup directory,
``/``-separated: ``records.db``, ``blobs/<store key>``, ``keys/<name>``,
``schedule/<name>``. This module owns the format, reading and writing it, and
checking files against it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ValidationError

from records_service.backup.target import BackupRefused

FORMAT = "records-service-backup/1"
MANIFEST_NAME = "manifest.json"
DATABASE_NAME = "records.db"
BLOBS_DIR = "blobs"
CHUNK = 1024 * 1024
Advance = Callable[[int], object]


class Role(StrEnum):
    """What a file of the backup is, and so where restore puts it."""

    DATABASE = "database"
    BLOB = "blob"
    SIGNING_KEY = "audit-signing-key"
    KEY = "key"
    SCHEDULE = "schedule"


class FileEntry(BaseModel):
    """One file of the backup."""

    role: Role
    sha256: str
    size: int


class AuditState(BaseModel):
    """The audit log in the snapshot: its size, its root (hex) and the latest checkpoint."""

    log_size: int
    root: str
    latest_checkpoint: int | None


class Manifest(BaseModel):
    """What one backup holds; see the module docstring."""

    format: str = FORMAT
    created_at: str
    service_version: str
    schema_revision: str | None
    audit: AuditState
    records: int
    versions: int
    files: dict[str, FileEntry]

    def of_role(self, role: Role) -> dict[str, FileEntry]:
        """The files of one role, by path."""
        return {path: entry for path, entry in self.files.items() if entry.role == role}

    def total_bytes(self, paths: Iterable[str] | None = None) -> int:
        """The size of the named files (all of them by default)."""
        names = self.files if paths is None else paths
        return sum(self.files[name].size for name in names)


def blob_path(key: str) -> str:
    """The backup path of a store key."""
    return f"{BLOBS_DIR}/{key}"


def sha256_of(path: Path, advance: Advance | None = None) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if advance is not None:
                advance(len(chunk))
    return digest.hexdigest(), size


def read_manifest(directory: Path) -> Manifest:
    """The manifest of a backup directory; :class:`BackupRefused` if there is none usable."""
    path = directory / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BackupRefused(f"{directory} holds no backup: {MANIFEST_NAME} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupRefused(f"cannot read {path}: {exc}") from None
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError:
        raise BackupRefused(f"{path} is damaged: it is not a backup manifest") from None
    if manifest.format != FORMAT:
        raise BackupRefused(f"{path} is of format {manifest.format!r}, not {FORMAT!r}")
    return manifest


def previous_manifest(directory: Path) -> Manifest | None:
    """The manifest an earlier backup left in ``directory``, if it is usable."""
    try:
        return read_manifest(directory)
    except BackupRefused:
        return None


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically: the old one stays until the new one is whole."""
    temp = directory / f".{MANIFEST_NAME}.partial"
    temp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    sync_file(temp)
    temp.replace(directory / MANIFEST_NAME)
    sync_directory(directory)


def bad_files(
    directory: Path, manifest: Manifest, paths: Iterable[str], advance: Advance | None = None
) -> list[str]:
    """The named files of the backup that are missing or do not match the manifest, each
    with what is wrong."""
    problems: list[str] = []
    for name in paths:
        entry = manifest.files[name]
        try:
            digest, size = sha256_of(directory / name, advance)
        except FileNotFoundError:
            problems.append(f"{name}: missing")
            continue
        except OSError as exc:
            problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
            continue
        if (digest, size) != (entry.sha256, entry.size):
            problems.append(f"{name}: its SHA-256 does not match the manifest (damaged)")
    return problems


def copy_new(source: Path, target: Path, advance: Advance | None = None) -> FileEntry:
    """Copy ``source`` to ``target``, which must not exist, hashing on the way.

    The copy is written beside its name, made read-only (as the blob store keeps its
    objects) and linked into place, which fails rather than replace a file. It is not
    synced one by one: :func:`sync_filesystem` makes a whole batch durable at once.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.partial")
    digest, size = hashlib.sha256(), 0
    try:
        with source.open("rb") as reader, temp.open("wb") as writer:
            while chunk := reader.read(CHUNK):
                writer.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if advance is not None:
                    advance(len(chunk))
        temp.chmod(0o444)
        os.link(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return FileEntry(role=Role.BLOB, sha256=digest.hexdigest(), size=size)


def sync_filesystem(path: Path) -> None:
    """Make everything written to the filesystem holding ``path`` durable: one ``syncfs``
    (Linux) instead of an fsync per file; ``sync`` where there is no ``syncfs``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS is None or _SYNCFS(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        function: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    return function


_SYNCFS = _load_syncfs()


def sync_file(path: Path) -> None:
    """Make a written file durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(path: Path) -> None:
    """Make the entries of a directory (new or renamed files) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
