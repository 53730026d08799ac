"""Database engines and sessions: the one place that knows SQLite from PostgreSQL.

SQLite runs in WAL mode with foreign keys on, and every writing transaction
starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue for the write
lock instead of failing on a lock upgrade; :func:`read_scope` sessions only
read, so they start a plain deferred transaction and never wait for writers.

Writers wait for the lock in :func:`_begin_immediate`, retrying every 0.2 to 2 ms
rather than through SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20 and then
25 ms or more between tries: with several server processes and the background
worker writing, those sleeps left the lock idle while writers overslept it.

Checkpoints (copying the write-ahead log back into the database file, with two
syncs) run inside whichever commit finds the log over ``wal_autocheckpoint`` pages.
A capture writes about 25 pages and its background work as many again, so with
SQLite's default of 1000 some captures paid for a checkpoint. Server processes
that have a separate background worker, and that worker's own commits, therefore
checkpoint only as a backstop (:data:`SQLITE_BACKSTOP_CHECKPOINT_PAGES`); the
worker checkpoints for all of them in pauses (:func:`checkpoint_wal`, called by
``serving.wal_checkpointer``).

Every write transaction is bounded twice, on both databases:

- **waiting:** a writer that cannot get SQLite's write lock within
  :data:`WRITE_LOCK_WAIT_S` (or, on PostgreSQL, a row or table lock within the same
  ``lock_timeout``) fails with :class:`~records_service.errors.DatabaseBusy`, a 503
  with ``Retry-After``, instead of a 500 after a long wait;
- **holding:** a write transaction that is still open :data:`MAX_WRITE_S` after it
  began is stopped at its next statement or at its commit (and, on SQLite, inside a
  long statement, through the progress handler) with
  :class:`~records_service.errors.WriteTooLong`, and rolled back, so no one request
  can keep every other writer waiting. Migrations opt out (:data:`LONG_WRITE_OPTION`).

Schema changes go through the Alembic migrations in :mod:`records_service.migrations`.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Insert, Table, create_engine, event, insert
from sqlalchemy.engine import ExceptionContext, make_url
from sqlmodel import Session, SQLModel

from records_service.errors import DatabaseBusy, DiskFull, WriteTooLong

# How long a writer queues for the lock before it is told to retry (503). Generous: on a
# loaded machine a queue of ordinary writers can take seconds to pass.
WRITE_LOCK_WAIT_S = 30.0
# How long one write transaction may hold the lock before it is rolled back (503): far
# beyond any request's transaction (milliseconds), even on a loaded machine.
MAX_WRITE_S = 30.0
SQLITE_BUSY_TIMEOUT_MS = int(WRITE_LOCK_WAIT_S * 1000)
# SQLite calls the progress handler every this many virtual-machine steps (well under
# a millisecond), so a single long statement is stopped soon after its bound too.
SQLITE_PROGRESS_STEPS = 20_000
_DEADLINE = "records_write_deadline"
WRITE_LOCK_FIRST_RETRY_S = 0.0002
WRITE_LOCK_MAX_RETRY_S = 0.002
READ_ONLY_OPTION = "records_read_only"
# Set on a connection whose write transaction may outlast MAX_WRITE_S (migrations).
LONG_WRITE_OPTION = "records_long_write"
# SQLite's own default: a commit that leaves more log pages than this checkpoints.
SQLITE_CHECKPOINT_PAGES = 1000
# For connections whose checkpoints another process runs: only a bound on the log's
# size (about 64 MiB at 4 KiB pages) should that process stop.
SQLITE_BACKSTOP_CHECKPOINT_PAGES = 16_000


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def make_engine(
    url: str, *, checkpoint_wal: bool = True, max_write_s: float | None = MAX_WRITE_S
) -> Engine:
    """Create an engine for ``url``, configured for this service's needs.

    ``checkpoint_wal=False`` (SQLite only) leaves checkpoints to another process that
    calls :func:`checkpoint_wal`, keeping them out of this engine's commits.
    ``max_write_s`` bounds how long one write transaction may stay open (``None``: no
    bound, for migrations).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pages = SQLITE_CHECKPOINT_PAGES if checkpoint_wal else SQLITE_BACKSTOP_CHECKPOINT_PAGES
        engine = _make_sqlite_engine(url, parsed.database, pages)
    else:
        lock_timeout_ms = int(WRITE_LOCK_WAIT_S * 1000)
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args={"options": f"-c lock_timeout={lock_timeout_ms}"},
        )
    _bound_writes(engine, max_write_s)
    return engine


def _make_sqlite_engine(url: str, database: str | None, checkpoint_pages: int) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )
    event.listen(engine, "connect", functools.partial(_on_sqlite_connect, checkpoint_pages))
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(checkpoint_pages: int, dbapi_connection: Any, record: Any) -> None:
    # Take transaction control away from the driver so that "begin" below decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit is on disk before it returns, so a 201 survives a power cut, and
    # no signed audit checkpoint can cover entries a crash takes back. NORMAL syncs
    # the log only at checkpoints. The price is one log sync per commit, made while
    # the write lock is held (see docs/benchmarks.md for what it costs a capture).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
    cursor.close()
    # Stops a single statement that runs past its transaction's bound.
    dbapi_connection.set_progress_handler(_deadline_of(record).passed, SQLITE_PROGRESS_STEPS)


def checkpoint_wal(engine: Engine) -> tuple[int, int] | None:
    """Copy what the write-ahead log holds back into the database file without waiting
    for readers or writers (a passive checkpoint); SQLite only.

    Returns the log's size in pages and how many of them are now in the database
    file, or ``None`` on other databases.
    """
    if not is_sqlite(engine):
        return None
    # The raw connection runs the pragma outside a transaction (the driver's own
    # transaction handling is off, see above), as a checkpoint must.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA query_only=OFF")  # left on by a read-only session
        _busy, log_pages, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    return int(log_pages), int(copied)


def _on_sqlite_begin(connection: Any) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        # query_only makes a write through a read-only session fail at once, instead
        # of taking the write lock unasked (or, on commit-less close, being lost).
        dbapi_connection.execute("PRAGMA query_only=ON")
        connection.exec_driver_sql("BEGIN")
    else:
        dbapi_connection.execute("PRAGMA query_only=OFF")
        _begin_immediate(dbapi_connection)


def _begin_immediate(dbapi_connection: sqlite3.Connection) -> None:
    """Take the write lock, retrying at short intervals for up to the busy timeout.

    SQLite's busy handler is switched off for the attempt only; every other
    statement keeps it.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = WRITE_LOCK_FIRST_RETRY_S
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() > deadline:
                    raise _busy() from exc
            time.sleep(delay)
            delay = min(delay * 2, WRITE_LOCK_MAX_RETRY_S)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _busy() -> DatabaseBusy:
    return DatabaseBusy(
        "the database is busy with other changes; nothing was changed, try again shortly"
    )


def _too_long(bound: float) -> WriteTooLong:
    return WriteTooLong(
        f"the change took longer than {bound:g} s and was undone so that others can work; "
        "nothing was changed"
    )


class _WriteDeadline:
    """When the open write transaction on one connection must end (``None``: none open)."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.bound = 0.0

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() > self.at


def _deadline_of(record: Any) -> _WriteDeadline:
    """The deadline kept with a pooled connection (``record``: its pool record or fairy)."""
    deadline = record.info.get(_DEADLINE)
    if deadline is None:
        deadline = record.info[_DEADLINE] = _WriteDeadline()
    return deadline  # type: ignore[no-any-return]


def _bound_writes(engine: Engine, max_write_s: float | None) -> None:
    """Stop write transactions that stay open past ``max_write_s``, and turn lock
    contention into :class:`DatabaseBusy`."""
    event.listen(engine, "handle_error", _translate_contention)
    if max_write_s is None:
        return

    def start(connection: Any) -> None:
        deadline = _deadline_of(connection.connection)
        options = connection.get_execution_options()
        bounded = not (options.get(READ_ONLY_OPTION) or options.get(LONG_WRITE_OPTION))
        deadline.at = time.monotonic() + max_write_s if bounded else None
        deadline.bound = max_write_s

    def reset(_dbapi_connection: Any, record: Any) -> None:
        _deadline_of(record).at = None

    def check(connection: Any, *_args: Any) -> None:
        if _deadline_of(connection.connection).passed():
            raise _too_long(max_write_s)

    def end(connection: Any) -> None:
        _deadline_of(connection.connection).at = None

    event.listen(engine, "begin", start)
    event.listen(engine, "before_cursor_execute", check)
    event.listen(engine, "commit", check)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)
    event.listen(engine.pool, "checkin", reset)


def _translate_contention(context: ExceptionContext) -> BaseException | None:
    """A lock that could not be had becomes a 503 to retry, not a 500; so does a full
    disk, saying so."""
    original = context.original_exception
    if getattr(original, "sqlstate", None) == _PG_DISK_FULL:
        return _disk_full()
    if isinstance(original, sqlite3.OperationalError):
        code = getattr(original, "sqlite_errorcode", None)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return _busy()
        if code == sqlite3.SQLITE_FULL:
            return _disk_full()
        if code == sqlite3.SQLITE_INTERRUPT and context.connection is not None:
            deadline = _deadline_of(context.connection.connection)
            if deadline.at is not None:
                return _too_long(deadline.bound)
    if getattr(original, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return _busy()
    return None


# PostgreSQL's SQLSTATE for a lock wait that passed ``lock_timeout``.
_PG_LOCK_NOT_AVAILABLE = "55P03"
# PostgreSQL's SQLSTATE for a write refused for want of disk space.
_PG_DISK_FULL = "53100"


def _disk_full() -> DiskFull:
    return DiskFull(
        "the database's disk is full, so nothing can be changed until space is freed; "
        "nothing was changed (reading still works)"
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session that only reads: on SQLite it does not queue for the write lock.

    Writing through it is a programming error: on SQLite the session runs with
    ``query_only`` on, so a write fails at once ("attempt to write a readonly
    database"). Its transaction ends, unwritten, when the block closes.
    """
    with Session(engine, expire_on_commit=False) as session:
        session.connection(execution_options={READ_ONLY_OPTION: True})
        # Closing (not rolling back) ends the transaction without expiring the
        # loaded objects, so callers can keep using what they read.
        yield session


@dataclass(frozen=True)
class NewRows:
    """New rows of one table, laid out as the values of one insert statement."""

    table: Table
    values: list[dict[str, Any]]


def new_rows(rows: Sequence[SQLModel]) -> NewRows | None:
    """Lay out ``rows`` (all of one table) for :func:`insert_rows`; ``None`` if empty.

    Done before a transaction, this keeps the work out of SQLite's write lock.
    """
    if not rows:
        return None
    table = type(rows[0]).__table__  # type: ignore[attr-defined]
    keys = [column.name for column in table.primary_key.columns]
    # A key left unset (None) is the database's to generate.
    values = [row.model_dump(exclude={k for k in keys if getattr(row, k) is None}) for row in rows]
    return NewRows(table, values)


def insert_rows(session: Session, rows: Sequence[SQLModel] | NewRows | None) -> None:
    """Insert new rows of one table in one Core statement, in ``session``'s transaction.

    Bypasses the ORM unit of work, which costs more than the statement itself on
    the capture path. Ids the database generates are not read back: the objects
    stay as they were built, unattached to the session.
    """
    laid_out = rows if rows is None or isinstance(rows, NewRows) else new_rows(rows)
    if laid_out is not None:
        session.connection().execute(_insert_into(laid_out.table), laid_out.values)


@functools.cache
def _insert_into(table: Table) -> Insert:
    # One statement object per table: building it anew costs more than running it.
    return insert(table)
