"""SQLite writers queue for the write lock: every writer gets its turn, the busy
timeout still bounds the wait, and other statements keep SQLite's busy handler."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from records_service import db
from records_service.db import make_engine, session_scope


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
            pytest.raises(sqlite3.OperationalError, match="locked"),
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
