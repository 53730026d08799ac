"""SQLite writers queue for the write lock: every writer gets its turn, the busy
timeout still bounds the wait, and other statements keep SQLite's busy handler."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from factories import make_settings
from records_service import db
from records_service.app import create_app
from records_service.db import make_engine, session_scope
from records_service.errors import DatabaseBusy, WriteTooLong
from records_service.runtime.serve import wal_checkpointer


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def test_concurrent_writers_all_commit(tmp_path: Path) -> None:
    engines = [
        _engine(tmp_path) if i == 0 else make_engine(f"sqlite:///{tmp_path / 'w.db'}")
        for i in range(3)
    ]
    errors: list[BaseException] = []

    def write(engine: Engine, start: int) -> None:
        try:
            for n in range(start, start + 40):
                with session_scope(engine) as session:
                    session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                    time.sleep(0.001)  # hold the lock while the others wait
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(engines[i % 3], i * 100)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(engines[0]) as session:
        assert session.execute(text("SELECT count(DISTINCT n) FROM t")).scalar_one() == 240


def test_busy_handler_is_restored_after_taking_the_lock(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        timeout = session.execute(text("PRAGMA busy_timeout")).scalar_one()
    assert timeout == db.SQLITE_BUSY_TIMEOUT_MS


def test_wait_for_the_write_lock_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(tmp_path)
    holder = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    started = time.monotonic()
    try:
        with (
            pytest.raises(DatabaseBusy, match="busy"),
            session_scope(engine) as session,
        ):
            session.execute(text("INSERT INTO t VALUES (2)"))
        assert time.monotonic() - started >= 0.3
    finally:
        holder.rollback()
        holder.close()
    # The lock is free again: the same engine writes at once.
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (3)"))


def test_a_write_transaction_held_past_its_bound_is_rolled_back(tmp_path: Path) -> None:
    _engine(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", max_write_s=0.2)
    with pytest.raises(WriteTooLong), session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        time.sleep(0.3)  # slow work between statements, while holding the lock
        session.execute(text("INSERT INTO t VALUES (2)"))
    with pytest.raises(WriteTooLong), session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (3)"))
        time.sleep(0.3)  # slow work right before the commit
    with session_scope(engine) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        session.execute(text("INSERT INTO t VALUES (4)"))  # the connection is usable again


def test_a_single_long_statement_is_stopped_at_its_bound(tmp_path: Path) -> None:
    _engine(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", max_write_s=0.2)
    endless = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) "
    with pytest.raises(WriteTooLong), session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.execute(text(endless + "SELECT max(n) FROM c"))
    # The lock is free at once for another writer, and read-only sessions are not bounded.
    with session_scope(make_engine(f"sqlite:///{tmp_path / 'w.db'}")) as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
    with db.read_scope(engine) as session:
        assert session.execute(text(endless + "SELECT n FROM c LIMIT 1 OFFSET 2000000")).scalar()
        time.sleep(0.3)
        assert session.execute(text("SELECT n FROM t")).scalars().all() == [2]


# --- checkpoints ----------------------------------------------------------------------

PAGE_ROWS = 1200  # rows of about one page each: more than SQLite's 1000-page default


def _blob_engine(path: Path, *, checkpoint_wal: bool = True) -> Engine:
    engine = make_engine(f"sqlite:///{path}", checkpoint_wal=checkpoint_wal)
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS b (data BLOB)"))
    return engine


def _write_pages(engine: Engine, rows: int) -> None:
    for _ in range(rows):  # one commit per row, as captures commit
        with session_scope(engine) as session:
            session.execute(text("INSERT INTO b VALUES (randomblob(3000))"))


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_commits_checkpoint_by_default_and_not_when_left_to_the_worker(tmp_path: Path) -> None:
    own = _blob_engine(tmp_path / "own.db")
    left = _blob_engine(tmp_path / "left.db", checkpoint_wal=False)
    assert (_autocheckpoint(own), _autocheckpoint(left)) == (
        db.SQLITE_CHECKPOINT_PAGES,
        db.SQLITE_BACKSTOP_CHECKPOINT_PAGES,
    )
    for engine in (own, left):
        _write_pages(engine, PAGE_ROWS)
    # The log restarts after each full checkpoint, so it stays under the threshold
    # plus one commit's pages; left alone, it holds every commit since the start.
    own_log = db.checkpoint_wal(own)
    left_log = db.checkpoint_wal(left)
    assert own_log is not None and left_log is not None
    assert own_log[0] <= db.SQLITE_CHECKPOINT_PAGES + 10
    assert left_log[0] >= PAGE_ROWS
    assert left_log[1] == left_log[0], "a passive checkpoint with no readers copies it all"


def test_checkpoint_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    engine = _blob_engine(path, checkpoint_wal=False)
    _write_pages(engine, 200)
    before = path.stat().st_size  # the new pages are only in the log so far
    assert db.checkpoint_wal(engine) is not None
    assert path.stat().st_size >= before + 200 * 3000


def test_the_worker_checkpoints_in_a_pause_or_after_a_long_run_of_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.db"
    engine = _blob_engine(path, checkpoint_wal=False)
    _write_pages(engine, 50)  # before the worker starts watching
    size = path.stat().st_size
    step = wal_checkpointer(engine, busy_limit=3)
    step(False)  # the first look copies what was there before it
    assert path.stat().st_size >= size + 50 * 3000
    size = path.stat().st_size
    step(False)  # nothing written since: nothing to do
    _write_pages(engine, 100)
    step(True)
    step(True)  # writes keep coming: the log waits
    assert path.stat().st_size == size
    step(False)  # the first pause copies it
    assert path.stat().st_size >= size + 100 * 3000
    size = path.stat().st_size
    _write_pages(engine, 100)
    step(True)
    step(True)
    assert path.stat().st_size == size
    step(True)  # the third busy look in a row does not wait for a pause
    assert path.stat().st_size >= size + 100 * 3000


def test_an_app_can_leave_checkpoints_to_the_worker(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'app.db'}")
    for checkpoint_wal, pages in (
        (True, db.SQLITE_CHECKPOINT_PAGES),
        (False, db.SQLITE_BACKSTOP_CHECKPOINT_PAGES),
    ):
        app = create_app(settings, background=False, checkpoint_wal=checkpoint_wal)
        with TestClient(app):
            assert _autocheckpoint(app.state.services.engine) == pages


def test_commits_are_synced_before_they_return(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}  # 2 = FULL


def test_a_read_only_session_cannot_write_and_leaves_writers_able_to(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with pytest.raises(OperationalError, match="readonly"), db.read_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    # The pool hands the same connection to the next session, which must write.
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
    assert db.checkpoint_wal(engine) is not None
    with db.read_scope(engine) as session:
        assert session.execute(text("SELECT n FROM t")).scalars().all() == [2]
