"""Failed requests, audited in bounded number: the ``auth_failure_counts`` rows.

Anyone can send requests that fail authentication, and the audit log keeps every
entry for ever, so failures of a fixed kind (a :class:`FailureReason`, never text
from the request) are counted per source address, reason and interval
(``auth.failure_interval_seconds``, aligned to the epoch):

- the first failure of an interval is audited at once (``count`` 1), so a single
  failure shows in the log as it happens;
- later failures in the same interval only add one to the interval's row;
- once the interval has closed, one entry carries the number of those later
  failures (``count``, with the ``interval``) and the row goes. The server's
  background work does this (:func:`flush_closed`); so does the source's first
  failure of a later interval, for the rows of that source and reason.

So a flood from one source costs at most two entries per reason per interval, and
the sum of ``count`` over the ``auth.failure`` entries is the number of failures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Delete, Engine, Table, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from records_service.audit.actions import AuditAction, AuthFailurePayload
from records_service.audit.log import ANONYMOUS, format_time, record_event
from records_service.auth.models import AuthFailureCount
from records_service.clock import Clock
from records_service.db import read_scope, session_scope

AUDIT_SUBJECT = "auth"
_COUNTS: Table = AuthFailureCount.__table__  # type: ignore[attr-defined]


class FailureReason(StrEnum):
    """The kinds of failure counted per interval; each belongs to one method."""

    MISSING_TOKEN = "missing bearer token"  # noqa: S105 (a reason, not a secret)
    BAD_TOKEN = "invalid or revoked token"  # noqa: S105 (a reason, not a secret)
    LOCKED_OUT = "sign-in refused while locked out"

    @property
    def method(self) -> str:
        """How the caller tried to authenticate."""
        return "password" if self is FailureReason.LOCKED_OUT else "bearer"


def interval_start(now: datetime, seconds: int) -> datetime:
    """The start of the interval of ``seconds`` (counted from the epoch) holding ``now``."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def count_failure(
    engine: Engine, *, source: str, reason: FailureReason, interval_seconds: int, clock: Clock
) -> None:
    """Count one failure, auditing it if it is the first of its interval (one short
    write transaction)."""
    start = interval_start(clock(), interval_seconds)
    with session_scope(engine) as session:
        if _bump(session, source, reason, start):
            return
        if not _claim(session, source, reason, start):
            # Another process counted this interval's first failure meanwhile.
            _bump(session, source, reason, start)
            return
        closed = _remove_closed(session, start, source=source, reason=reason)
        _audit_closed(session, closed, interval_seconds, clock)
        _audit(session, source, reason, count=1, interval=None, clock=clock)


def flush_closed(engine: Engine, *, interval_seconds: int, clock: Clock) -> int:
    """Audit the counted failures of every closed interval and drop their rows;
    return how many rows went (0 when there were none: a read, no write)."""
    start = interval_start(clock(), interval_seconds)
    with read_scope(engine) as session:
        found = session.connection().execute(select(exists().where(_before(start)))).scalar()
    if not found:
        return 0
    with session_scope(engine) as session:
        closed = _remove_closed(session, start)
        _audit_closed(session, closed, interval_seconds, clock)
    return len(closed)


def _key(source: str, reason: FailureReason, start: datetime) -> Any:
    c = _COUNTS.c
    return (c.source == source) & (c.reason == reason.value) & (c.interval_start == start)


def _before(start: datetime) -> Any:
    return _COUNTS.c.interval_start < start


def _bump(session: Session, source: str, reason: FailureReason, start: datetime) -> bool:
    statement = update(_COUNTS).where(_key(source, reason, start))
    result = session.connection().execute(statement.values(count=_COUNTS.c.count + 1))
    return bool(result.rowcount)


def _claim(session: Session, source: str, reason: FailureReason, start: datetime) -> bool:
    """Insert the interval's row; False if it exists (another process was first)."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    values = {"source": source, "reason": reason.value, "interval_start": start, "count": 1}
    statement = dialect.insert(_COUNTS).values(**values).on_conflict_do_nothing()
    return bool(session.connection().execute(statement).rowcount)


def _remove_closed(
    session: Session,
    start: datetime,
    *,
    source: str | None = None,
    reason: FailureReason | None = None,
) -> list[Any]:
    """Delete the rows of intervals before ``start`` (of one source and reason, when
    given) and return them: deleting claims them, so no two writers audit a row."""
    statement: Delete = delete(_COUNTS).where(_before(start))
    if source is not None and reason is not None:
        statement = statement.where(_COUNTS.c.source == source, _COUNTS.c.reason == reason)
    returning = statement.returning(
        _COUNTS.c.source, _COUNTS.c.reason, _COUNTS.c.interval_start, _COUNTS.c.count
    )
    return list(session.connection().execute(returning).all())


def _audit_closed(session: Session, rows: list[Any], interval_seconds: int, clock: Clock) -> None:
    for source, reason, start, count in sorted(rows, key=lambda row: (row[2], row[0], row[1])):
        if count <= 1:
            continue  # its only failure was audited when it happened
        begun = start if start.tzinfo else start.replace(tzinfo=UTC)
        end = begun + timedelta(seconds=interval_seconds)
        interval = f"{format_time(begun)}/{format_time(end)}"
        _audit(
            session, source, FailureReason(reason), count=count - 1, interval=interval, clock=clock
        )


def _audit(
    session: Session,
    source: str,
    reason: FailureReason,
    *,
    count: int,
    interval: str | None,
    clock: Clock,
) -> None:
    payload = AuthFailurePayload(
        reason=reason.value, method=reason.method, source=source, count=count, interval=interval
    )
    record_event(
        session,
        actor=ANONYMOUS,
        action=AuditAction.AUTH_FAILURE,
        subject=AUDIT_SUBJECT,
        payload=payload,
        clock=clock,
    )
