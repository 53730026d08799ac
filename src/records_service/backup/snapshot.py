"""A consistent copy of the live SQLite database, and the facts the manifest keeps of it.

The copy runs through SQLite's online backup API, a few megabytes per step, inside
one read transaction on the source. In WAL mode a reader never blocks a writer,
so the service keeps committing while the copy runs; and because the read
transaction stays open across the steps, the copy is the database as it was when
the transaction began, and is never restarted by those commits. The copy is
switched to a rollback journal, so that it is one self-contained file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from records_service.audit.merkle import root
from records_service.audit.nodes import with_stored_nodes
from records_service.audit.rollback import acknowledged
from records_service.backup.manifest import AuditState
from records_service.backup.progress import Bars, no_bars
from records_service.backup.target import BackupRefused

# Pages copied per step of the backup API: 4 MiB at SQLite's default 4 KiB pages.
PAGES_PER_STEP = 1024
BUSY_TIMEOUT_S = 30.0
# Called after each step with the pages still to copy and the database's page count.
StepHook = Callable[[int, int], object]


@dataclass(frozen=True)
class SnapshotFacts:
    """What the copied database holds, as the manifest and the blob copy need it."""

    schema_revision: str | None
    audit: AuditState
    records: int
    versions: int
    version_hashes: dict[str, str]  # content key -> the SHA-256 the catalogue recorded
    lost_checkpoints: frozenset[str]


def copy_database(
    source: Path,
    target: Path,
    *,
    bars: Bars = no_bars,
    on_step: StepHook | None = None,
    pages: int | None = None,
) -> None:
    """Copy the database at ``source`` to ``target`` (a new file) as of one moment.

    ``on_step`` is called after each step with the pages left and the page count.
    """
    if not source.is_file():
        raise BackupRefused(f"no database at {source}: nothing to back up")
    try:
        _copy(source, target, bars, on_step, pages or PAGES_PER_STEP)
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"cannot copy the database {source}: {exc}") from None


def _copy(source: Path, target: Path, bars: Bars, on_step: StepHook | None, pages: int) -> None:
    with (
        closing(sqlite3.connect(source, isolation_level=None, timeout=BUSY_TIMEOUT_S)) as src,
        closing(sqlite3.connect(target, isolation_level=None)) as dst,
    ):
        src.execute("PRAGMA query_only=ON")
        # The snapshot starts at the first read, not at BEGIN; it lasts until COMMIT.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        total = int(src.execute("PRAGMA page_count").fetchone()[0])
        with bars("copying the database", total, "pages") as advance:
            done = [0]

            def progress(_status: int, remaining: int, count: int) -> None:
                advance(count - remaining - done[0])
                done[0] = count - remaining
                if on_step is not None:
                    on_step(remaining, count)

            src.backup(dst, pages=pages, progress=progress)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")


def snapshot_facts(database: Path) -> SnapshotFacts:
    """Read the schema revision, the audit log's state and the version keys of a copy."""
    engine = create_engine(f"sqlite:///{database}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _facts(conn)
    finally:
        engine.dispose()


def _facts(conn: Connection) -> SnapshotFacts:
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    size = int(conn.execute(text("SELECT size FROM audit_head WHERE id = 1")).scalar_one())
    latest = conn.execute(text("SELECT max(tree_size) FROM audit_checkpoints")).scalar()
    hashes = {
        str(key): str(sha)
        for key, sha in conn.execute(text("SELECT storage_key, sha256 FROM versions"))
    }
    records = int(conn.execute(text("SELECT count(*) FROM records")).scalar_one())
    return SnapshotFacts(
        schema_revision=None if revision is None else str(revision),
        audit=AuditState(
            log_size=size,
            root=with_stored_nodes(conn, partial(root, size)).hex(),
            latest_checkpoint=None if latest is None else int(latest),
        ),
        records=records,
        versions=len(hashes),
        version_hashes=hashes,
        lost_checkpoints=acknowledged(conn).keys,
    )
