"""Streaming audit entries out of the database in index order, as canonical bytes.

Verification and export both need every entry's canonical bytes (exactly what
:func:`records_service.audit.log.canonical_entry` builds) and its recorded leaf
hash, for up to millions of entries. Loading ORM objects costs several times the
hashing, so rows are read raw and their timestamp turned into `format_time` text
here: directly from SQLite's fixed storage form (``YYYY-MM-DD HH:MM:SS.ffffff``,
always 26 characters), and otherwise through the column type's own result
processing, exactly as the ORM would load it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from records_service.audit.log import format_time
from records_service.sqltypes import UTCDateTime

ENTRY_ROWS_SQL = (
    "SELECT e.idx, e.at, e.actor, e.action, e.subject, e.details, n.hash "
    "FROM audit_entries e LEFT JOIN audit_nodes n ON n.level = 0 AND n.idx = e.idx "
    "WHERE e.idx >= {lo} AND e.idx < {hi} ORDER BY e.idx"
)
BATCH_ROWS = 10_000
_SQLITE_STORED_LENGTH = 26


class TimeText:
    """Turns a raw ``audit_entries.at`` value into its canonical text, or None if unreadable."""

    def __init__(self, dialect: Dialect) -> None:
        processor = UTCDateTime().result_processor(dialect, None)
        self._process: Callable[[Any], Any] = processor or (lambda value: value)

    def __call__(self, raw: Any) -> str | None:
        """Return the `format_time` text of ``raw`` as stored."""
        if type(raw) is str and len(raw) == _SQLITE_STORED_LENGTH and raw[10] == " ":
            return raw[:10] + "T" + raw[11:] + "Z"
        try:
            return format_time(self._process(raw))
        except (ValueError, TypeError, AttributeError):
            return None


def entry_rows(
    conn: Connection, lo: int, hi: int, batch: int = BATCH_ROWS
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """Yield batches of (idx, at, actor, action, subject, details, leaf hash or None) rows
    for indices ``lo <= idx < hi``, in index order.

    Rows come straight from a driver cursor on ``conn``'s connection, inside its
    transaction (a server-side cursor on PostgreSQL, so memory stays flat): at a
    million rows, wrapping each in a SQLAlchemy row costs more than hashing it.
    """
    dbapi: Any = conn.connection.dbapi_connection
    cursor = dbapi.cursor() if conn.dialect.name == "sqlite" else dbapi.cursor(name="audit_rows")
    try:
        cursor.execute(ENTRY_ROWS_SQL.format(lo=int(lo), hi=int(hi)))
        while rows := cursor.fetchmany(batch):
            yield cast(Sequence[tuple[Any, ...]], rows)
    finally:
        cursor.close()
