"""Restoring a backup into an embedded installation, and the checks that follow it.

Nothing is written until everything has been checked: every file of the backup
against the manifest (a damaged backup is refused, naming the bad files), the
target (a database with rows, or a blob store with objects, is refused), and
the keys and schedule already at the target (a different file is never
replaced). Then the database, the blobs, the keys and the schedule are put back.

With ``existing_store`` the blob store survived and only the database was lost:
objects it lacks are put back, those it has are compared with the backup and
never replaced, and objects newer than the backup are left where they are for
``records-service recover --from-store`` (:func:`newer_than_backup` lists them).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from records_service.backup.blobs import RECORDS_PREFIX
from records_service.backup.files import KEYS_DIR, SCHEDULE_DIR, place
from records_service.backup.manifest import (
    BLOBS_DIR,
    Manifest,
    Role,
    bad_files,
    copy_new,
    read_manifest,
    sync_directory,
    sync_file,
    sync_filesystem,
)
from records_service.backup.progress import Bars, no_bars
from records_service.backup.target import BackupRefused, EmbeddedTarget, embedded_target
from records_service.records.sidecars import content_key_of
from records_service.settings import Settings
from records_service.storage import BlobStore, LocalBlobStore

# Any row in one of these means the database is in use: restoring over it would lose it.
IN_USE_TABLES = ("audit_entries", "users", "contracts", "records", "versions")
COPY_CHUNK = 1024 * 1024


@dataclass
class RestoreReport:
    """What a restore put back, and what it found on the way."""

    manifest: Manifest
    blobs_restored: int = 0
    blobs_present: int = 0
    placed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def restore_backup(
    settings: Settings, source: Path, *, bars: Bars = no_bars, existing_store: bool = False
) -> RestoreReport:
    """Restore the backup in ``source`` into the installation ``settings`` describe."""
    target = embedded_target(settings)
    manifest = _checked_backup(source, bars)
    _refuse_in_use(target, existing_store)
    small = _small_targets(target, manifest)
    _refuse_different(source, small)
    report = RestoreReport(manifest)
    _restore_database(source, manifest, target.database)
    for name, path in small.items():
        role = manifest.files[name].role
        place(path, (source / name).read_bytes(), secret=role != Role.SCHEDULE)
        report.placed.append(f"{manifest.files[name].role.value}: {path}")
    if small and target.schedule_file is None:
        _note_schedule(manifest, small, report)
    _restore_blobs(source, manifest, LocalBlobStore(target.blob_root), bars, report)
    sync_filesystem(target.blob_root if target.blob_root.exists() else target.database.parent)
    return report


def _checked_backup(source: Path, bars: Bars) -> Manifest:
    if not source.is_dir():
        raise BackupRefused(f"{source} is not a backup directory")
    manifest = read_manifest(source)
    with bars("checking the backup", manifest.total_bytes(), "B") as advance:
        problems = bad_files(source, manifest, manifest.files, advance)
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise BackupRefused(
            f"the backup in {source} is damaged, nothing was restored: {len(problems)} bad "
            f"file(s): {shown}"
        )
    return manifest


def _refuse_in_use(target: EmbeddedTarget, existing_store: bool) -> None:
    rows = database_rows(target.database)
    if rows:
        raise BackupRefused(
            f"the database {target.database} is in use ({rows}): restore only into an empty "
            "installation; move the database away first if it is to be replaced"
        )
    if existing_store:
        return
    first = next(iter(LocalBlobStore(target.blob_root).list()), None)
    if first is not None:
        raise BackupRefused(
            f"the blob store {target.blob_root} already holds objects (such as {first}): "
            "restore only into an empty one, or give --existing-store when only the "
            "database was lost"
        )


def database_rows(database: Path) -> str:
    """What the database at ``database`` holds, in words ("" when it is empty or absent)."""
    if not database.exists():
        return ""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            counts = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in IN_USE_TABLES
                if table in tables
            }
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{database} is not a usable database ({exc}): move it away") from None
    return ", ".join(f"{count} {table}" for table, count in counts.items() if count)


def _small_targets(target: EmbeddedTarget, manifest: Manifest) -> dict[str, Path]:
    """Where each key and the schedule of the backup go."""
    places: dict[str, Path] = {}
    for name, entry in manifest.files.items():
        file_name = name.rsplit("/", 1)[-1]
        if entry.role == Role.SIGNING_KEY:
            places[name] = target.signing_key
        elif entry.role == Role.KEY:
            places[name] = target.keys_dir / file_name
        elif entry.role == Role.SCHEDULE:
            places[name] = target.schedule_file or target.data_dir / SCHEDULE_DIR / file_name
    return places


def _refuse_different(source: Path, small: dict[str, Path]) -> None:
    for name, path in small.items():
        if path.exists() and path.read_bytes() != (source / name).read_bytes():
            raise BackupRefused(
                f"{path} already exists and differs from the backup's {name}: nothing was "
                "restored; move it away if the backup's copy is the one to keep"
            )


def _note_schedule(manifest: Manifest, small: dict[str, Path], report: RestoreReport) -> None:
    for name, path in small.items():
        if manifest.files[name].role == Role.SCHEDULE:
            report.notes.append(
                f"the retention schedule was restored to {path}: set "
                f"RECORDS_RETENTION__SCHEDULE_FILE={path} before starting the service"
            )


def _restore_database(source: Path, manifest: Manifest, database: Path) -> None:
    """Put the database copy in place through a temporary file, leaving no stale log."""
    name = next(iter(manifest.of_role(Role.DATABASE)))
    database.parent.mkdir(parents=True, exist_ok=True)
    temp = database.with_name(f".{database.name}.restoring")
    with (source / name).open("rb") as reader, temp.open("wb") as writer:
        while chunk := reader.read(COPY_CHUNK):
            writer.write(chunk)
    sync_file(temp)
    # A write-ahead log left by the lost database would be replayed into the copy.
    for suffix in ("-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    temp.replace(database)
    sync_directory(database.parent)


def _restore_blobs(
    source: Path, manifest: Manifest, store: LocalBlobStore, bars: Bars, report: RestoreReport
) -> None:
    """Put back the objects the store lacks; compare, never replace, those it has. They
    are made durable together afterwards (see ``copy_new``)."""
    blobs = manifest.of_role(Role.BLOB)
    with bars("restoring objects", manifest.total_bytes(blobs), "B") as advance:
        for name, entry in blobs.items():
            key = name.removeprefix(f"{BLOBS_DIR}/")
            if not store.exists(key):
                copy_new(source / name, store.root / key, advance)
                report.blobs_restored += 1
                continue
            report.blobs_present += 1
            if _digest(store, key) != entry.sha256:
                report.problems.append(
                    f"{key}: the store's copy differs from the backup's; the store's was "
                    "kept (the fixity check below reports it if it is content)"
                )
            advance(entry.size)


def _digest(store: BlobStore, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in store.open(key):
        digest.update(chunk)
    return digest.hexdigest()


def newer_than_backup(store: BlobStore, manifest: Manifest) -> Iterator[str]:
    """Content objects in the store that the backup does not hold: versions captured after
    it, whose records ``records-service recover --from-store`` can bring back."""
    held = manifest.files
    for key in store.list(RECORDS_PREFIX):
        if f"{BLOBS_DIR}/{key}" not in held and content_key_of(key) == key:
            yield key


__all__ = ["KEYS_DIR", "RestoreReport", "database_rows", "newer_than_backup", "restore_backup"]
