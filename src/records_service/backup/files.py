"""The small files of a backup: the audit signing key, the other keys, the schedule.

They are copied whole at every backup (they are a few hundred bytes), replacing
the backup's copy only when they changed, and always through a temporary file,
so a copy is either the old file or the new one. Keys keep mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from records_service.backup.manifest import FileEntry, Role, sha256_of, sync_file
from records_service.backup.target import EmbeddedTarget

SIGNING_KEY_DIR = "keys/signing"
KEYS_DIR = "keys"
SCHEDULE_DIR = "schedule"
KEY_MODE = 0o600


def small_files(target: EmbeddedTarget) -> dict[str, tuple[Path, Role]]:
    """Each small file of the installation that exists, by its path in the backup."""
    found: dict[str, tuple[Path, Role]] = {}
    if target.signing_key.is_file():
        found[f"{SIGNING_KEY_DIR}/{target.signing_key.name}"] = (
            target.signing_key,
            Role.SIGNING_KEY,
        )
    for path in target.other_keys():
        found[f"{KEYS_DIR}/{path.name}"] = (path, Role.KEY)
    if target.schedule_file is not None:
        found[f"{SCHEDULE_DIR}/{target.schedule_file.name}"] = (target.schedule_file, Role.SCHEDULE)
    return found


def copy_small_files(target: EmbeddedTarget, dest: Path) -> dict[str, FileEntry]:
    """Copy the small files into the backup at ``dest``; return their manifest entries."""
    entries: dict[str, FileEntry] = {}
    for name, (source, role) in small_files(target).items():
        data = source.read_bytes()
        place(dest / name, data, secret=role != Role.SCHEDULE)
        digest, size = sha256_of(dest / name)
        entries[name] = FileEntry(role=role, sha256=digest, size=size)
    return entries


def place(path: Path, data: bytes, *, secret: bool) -> None:
    """Write ``data`` at ``path`` unless it is there already, through a temporary file."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if secret else 0o755)
    temp = path.with_name(f".{path.name}.partial")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_MODE if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    sync_file(temp)
    temp.replace(path)
