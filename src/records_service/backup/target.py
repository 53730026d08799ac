"""Where the embedded default keeps what a backup holds, read from the settings.

Backup and restore work on files: the SQLite database, the local blob store's
directory, the audit signing key, the other keys under ``<data_dir>/keys/`` and
the retention schedule file. PostgreSQL and S3 settings are refused with a
pointer to the runbook, which gives their own tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from records_service.audit.keys import signing_key_path
from records_service.settings import Settings

RUNBOOK = "docs/recovery.md"
KEYS_DIR = "keys"


class BackupRefused(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class EmbeddedTarget:
    """The files of one embedded installation."""

    database: Path
    blob_root: Path
    signing_key: Path
    keys_dir: Path
    schedule_file: Path | None
    data_dir: Path

    def other_keys(self) -> list[Path]:
        """The key files beside the signing key in ``<data_dir>/keys/`` (the web session key)."""
        if not self.keys_dir.is_dir():
            return []
        return sorted(
            path
            for path in self.keys_dir.iterdir()
            if path.is_file() and path.resolve() != self.signing_key.resolve()
        )


def embedded_target(settings: Settings) -> EmbeddedTarget:
    """The embedded installation ``settings`` describe; :class:`BackupRefused` otherwise."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(
            f"the database is {url.get_backend_name()}, not SQLite: back it up with pg_dump "
            f"or pg_basebackup (see 'PostgreSQL and S3' in {RUNBOOK})"
        )
    if settings.storage.backend != "local":
        raise BackupRefused(
            "the blob store is S3: protect it with bucket versioning, object lock and "
            f"replication (see 'PostgreSQL and S3' in {RUNBOOK})"
        )
    if not url.database or url.database == ":memory:":
        raise BackupRefused("the database is in memory: there is nothing on disk to back up")
    return EmbeddedTarget(
        database=Path(url.database).resolve(),
        blob_root=settings.blob_root.resolve(),
        signing_key=signing_key_path(settings).resolve(),
        keys_dir=(settings.data_dir / KEYS_DIR).resolve(),
        schedule_file=settings.retention.schedule_file,
        data_dir=settings.data_dir.resolve(),
    )
