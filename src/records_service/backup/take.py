"""Taking a backup of a running embedded installation into a directory.

The order keeps every moment of the directory restorable: the new database copy
goes in under a new name, new blobs are added beside the old ones (which the old
manifest still names), then everything new is verified, and only then does the
new manifest replace the old one; older database copies and objects no longer in
the store are removed after that. A lock file keeps two backups out of one
directory.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from records_service import __version__
from records_service.backup.blobs import BlobCopy, copy_blobs, prune
from records_service.backup.files import copy_small_files
from records_service.backup.manifest import (
    BLOBS_DIR,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    Role,
    bad_files,
    previous_manifest,
    sha256_of,
    sync_directory,
    sync_filesystem,
    write_manifest,
)
from records_service.backup.progress import Bars, no_bars
from records_service.backup.snapshot import SnapshotFacts, StepHook, copy_database, snapshot_facts
from records_service.backup.target import BackupRefused, EmbeddedTarget, embedded_target
from records_service.clock import Clock, system_clock
from records_service.settings import Settings

LOCK_NAME = ".backup.lock"
PARTIAL = ".partial"
_STAMP = "%Y%m%dT%H%M%S%fZ"


class BackupFailed(BackupRefused):
    """The copy does not match what was read: nothing of this run was published."""


@dataclass
class BackupReport:
    """What a backup did."""

    destination: Path
    manifest: Manifest
    blobs: BlobCopy
    pruned: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the backup holds the live data without any problem found on the way."""
        return not self.problems


def take_backup(
    settings: Settings,
    destination: Path,
    *,
    bars: Bars = no_bars,
    verify_all: bool = False,
    clock: Clock = system_clock,
    on_database_step: StepHook | None = None,
) -> BackupReport:
    """Back up the installation ``settings`` describe into ``destination`` (a directory).

    ``verify_all`` re-hashes every object already in the backup, not only the new
    ones. ``on_database_step`` is called after each step of the database copy.
    """
    started = time.perf_counter()
    target = embedded_target(settings)
    dest = _usable_destination(destination, target)
    with _locked(dest):
        now = clock()
        database = f"records-{now.strftime(_STAMP)}.db"
        facts, db_entry = _copy_database(target, dest, database, bars, on_database_step)
        previous = previous_manifest(dest)
        blobs = copy_blobs(
            target.blob_root, dest / BLOBS_DIR, facts, previous, bars=bars, verify_all=verify_all
        )
        files = {database: db_entry, **copy_small_files(target, dest), **blobs.entries}
        sync_filesystem(dest)
        manifest = _manifest(facts, files, now.isoformat())
        _verify(dest, manifest, [database, *_small(files), *blobs.copied], verify_all, bars)
        (dest / (database + PARTIAL)).replace(dest / database)
        write_manifest(dest, manifest)
        pruned = _tidy(dest, manifest)
    report = BackupReport(dest, manifest, blobs, pruned, problems=list(blobs.problems))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _usable_destination(destination: Path, target: EmbeddedTarget) -> Path:
    if not destination.exists():
        raise BackupRefused(
            f"{destination} does not exist: create it first (a missing directory often "
            "means the backup disk is not mounted)"
        )
    if not destination.is_dir():
        raise BackupRefused(f"{destination} is not a directory")
    dest = destination.resolve()
    if dest == target.blob_root or target.blob_root in dest.parents:
        raise BackupRefused(f"{destination} is inside the blob store {target.blob_root}")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise BackupRefused(f"cannot write to {destination}: permission denied")
    return dest


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    try:
        fd = os.open(dest / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise BackupRefused(f"cannot write to {dest}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupRefused(f"another backup is writing to {dest}") from None
        yield
    finally:
        os.close(fd)


def _copy_database(
    target: EmbeddedTarget, dest: Path, name: str, bars: Bars, on_step: StepHook | None
) -> tuple[SnapshotFacts, FileEntry]:
    partial = dest / (name + PARTIAL)
    partial.unlink(missing_ok=True)
    copy_database(target.database, partial, bars=bars, on_step=on_step)
    facts = snapshot_facts(partial)
    digest, size = sha256_of(partial)
    return facts, FileEntry(role=Role.DATABASE, sha256=digest, size=size)


def _manifest(facts: SnapshotFacts, files: dict[str, FileEntry], created_at: str) -> Manifest:
    return Manifest(
        created_at=created_at,
        service_version=__version__,
        schema_revision=facts.schema_revision,
        audit=facts.audit,
        records=facts.records,
        versions=facts.versions,
        files=dict(sorted(files.items())),
    )


def _small(files: dict[str, FileEntry]) -> list[str]:
    return [
        name
        for name, entry in files.items()
        if entry.role in (Role.SIGNING_KEY, Role.KEY, Role.SCHEDULE)
    ]


def _verify(dest: Path, manifest: Manifest, paths: list[str], verify_all: bool, bars: Bars) -> None:
    """Read back what this run wrote (everything, with ``verify_all``) and compare."""
    names = list(manifest.files) if verify_all else paths
    database = next(iter(manifest.of_role(Role.DATABASE)))
    located = [name + PARTIAL if name == database else name for name in names]
    renamed = manifest.model_copy(
        update={"files": {**manifest.files, database + PARTIAL: manifest.files[database]}}
    )
    with bars("verifying the copy", manifest.total_bytes(names), "B") as advance:
        problems = bad_files(dest, renamed, located, advance)
    if problems:
        raise BackupFailed(
            "the backup does not match what was read, so it was not completed (the previous "
            f"backup in {dest} is kept; is the backup disk failing?): {'; '.join(problems[:5])}"
        )


def _tidy(dest: Path, manifest: Manifest) -> int:
    """Remove older database copies and whatever the new manifest does not name."""
    keep = set(manifest.files)
    for path in dest.iterdir():
        if path.is_file() and path.name not in (MANIFEST_NAME, LOCK_NAME) and path.name not in keep:
            path.unlink()
    removed = prune(dest / BLOBS_DIR, keep) if (dest / BLOBS_DIR).is_dir() else 0
    for sub in ("keys", "schedule"):
        if (dest / sub).is_dir():
            removed += prune(dest / sub, keep)
    sync_directory(dest)
    return removed
