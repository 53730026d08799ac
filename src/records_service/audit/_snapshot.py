"""A read-only connection that sees one consistent state of the database.

Verification and export read the log head, entries, nodes and checkpoints in
several statements; appends must not slip in between them, and a long read must
not block the service's writers. On PostgreSQL that is a REPEATABLE READ
transaction. On SQLite the service's own engine starts every transaction with
``BEGIN IMMEDIATE`` (the write lock), so a separate engine is used whose
transactions start with a deferred ``BEGIN``: in WAL mode that is a snapshot
that writers do not wait for. The connection is also set ``query_only``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from records_service.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside one read-only transaction over a single database state."""
    if not is_sqlite(engine):
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
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


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
