"""A read-only connection that sees one consistent state of the database.

Verification and export read the log head, entries, nodes and checkpoints in
several statements; appends must not slip in between them, and a long read must
not block the service's writers. On PostgreSQL that is a REPEATABLE READ
transaction. On SQLite the service's own engine starts every transaction with
``BEGIN IMMEDIATE`` (the write lock), so a separate engine is used whose
transactions start with a deferred ``BEGIN``: in WAL mode that is a snapshot
that writers do not wait for. The connection is also set ``query_only``.

A PostgreSQL snapshot can be shared with other connections (worker processes of
a verification) through `export_snapshot` and ``import_id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

from records_service.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


@contextmanager
def snapshot(engine: Engine, *, import_id: str | None = None) -> Iterator[Connection]:
    """Yield a connection inside one read-only transaction over a single database state.

    ``import_id`` (PostgreSQL only) joins the snapshot another transaction exported.
    """
    if not is_sqlite(engine):
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if import_id is not None:  # SET takes no bind parameters
                    if not _SNAPSHOT_ID.fullmatch(import_id):
                        raise ValueError(f"not a snapshot id: {import_id!r}")
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{import_id}'")
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
        return
    reader = create_engine(
        engine.url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(reader, "connect", _on_connect)
    event.listen(reader, "begin", _on_begin)
    try:
        with reader.connect() as conn, conn.begin():
            yield conn
    finally:
        reader.dispose()


def export_snapshot(conn: Connection) -> str | None:
    """The id of ``conn``'s snapshot for `snapshot` to import (None on SQLite)."""
    if conn.dialect.name == "sqlite":
        return None
    return str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
