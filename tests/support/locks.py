"""Holding SQLite's write lock from another connection, as a long capture would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Hold the write lock of ``engine``'s SQLite database until the block ends."""
    holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
