"""Sign-in lockouts per user name and per client address: the ``signin_throttle`` rows.

Every password check (signing in, or the current password when changing it) is
charged as a failure to two keys before Argon2 runs: ``account:<name>`` (the name
typed, whether or not such a user exists, so a lockout says nothing about which
names exist) and ``client:<address>`` (IPv6: the /64). Charging first means that
parallel guesses cannot overtake the limit. A right password takes the charge back:
the account's failures are forgotten, the client's go down by one (a client that
signs in to its own account between guesses at others is still stopped).

Once a key has ``threshold`` failures (5 for a name, 20 for an address by default)
it is locked for ``lockout_seconds``, doubled by each further failure up to
``max_lockout_seconds``; a locked key is refused before any password is checked.
Failures are forgotten ``forget_seconds`` after the last one (or after the lockout
ends). An administrator can release a key at once (:func:`release`). The rows live
in the database so that every server process sees the same counts; each change is
one short write transaction.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Table, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, LockoutPayload, UnlockPayload
from records_service.audit.log import ANONYMOUS, record_event
from records_service.auth.models import SignInThrottle
from records_service.auth.service import USERNAME_PATTERN
from records_service.auth.sources import client_source
from records_service.clock import Clock
from records_service.settings import AuthSettings

USER_NAME_CHARS = 64
MAX_DOUBLINGS = 30
_ROWS: Table = SignInThrottle.__table__  # type: ignore[attr-defined]


class Scope(StrEnum):
    """What a throttle key stands for."""

    ACCOUNT = "account"
    CLIENT = "client"


@dataclass(frozen=True)
class ThrottleKey:
    """One user name or one client address."""

    scope: Scope
    name: str

    @property
    def key(self) -> str:
        """The row's key."""
        return f"{self.scope.value}:{self.name}"

    @property
    def subject(self) -> str:
        """The audit subject: the user, or the client address."""
        return f"user:{self.name}" if self.scope is Scope.ACCOUNT else f"client:{self.name}"

    @classmethod
    def account(cls, username: str) -> ThrottleKey:
        """The key of a typed user name; a name no user could have is kept as a digest."""
        name = username.strip().lower()
        if not USERNAME_PATTERN.fullmatch(name):
            name = "#" + hashlib.sha256(name.encode()).hexdigest()[:32]
        return cls(Scope.ACCOUNT, name[:USER_NAME_CHARS])

    @classmethod
    def client(cls, host: str | None) -> ThrottleKey:
        """The key of the client at ``host``."""
        return cls(Scope.CLIENT, client_source(host))


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures lock a key, for how long, and when they are forgotten."""

    account_failures: int = 5
    client_failures: int = 20
    lockout_seconds: int = 60
    max_lockout_seconds: int = 3600
    forget_seconds: int = 3600

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> ThrottlePolicy:
        """The policy in the ``auth`` settings group."""
        return cls(
            account_failures=auth.signin_account_failures,
            client_failures=auth.signin_client_failures,
            lockout_seconds=auth.signin_lockout_seconds,
            max_lockout_seconds=auth.signin_max_lockout_seconds,
            forget_seconds=auth.signin_forget_seconds,
        )

    def lockout(self, scope: Scope, failures: int) -> int:
        """Seconds a key of ``scope`` is locked after ``failures`` failures (0: not)."""
        threshold = self.account_failures if scope is Scope.ACCOUNT else self.client_failures
        if failures < threshold:
            return 0
        doublings = min(failures - threshold, MAX_DOUBLINGS)
        return min(self.lockout_seconds << doublings, self.max_lockout_seconds)


@dataclass(frozen=True)
class Lock:
    """A key refused until ``until``."""

    key: ThrottleKey
    failures: int
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock ends (at least 1)."""
        return max(1, math.ceil((self.until - now).total_seconds()))


@dataclass(frozen=True)
class Standing:
    """A key's remembered failures, and until when it is locked (None: it is not)."""

    key: ThrottleKey
    failures: int
    locked_until: datetime | None


def _locked_until(row: SignInThrottle, scope: Scope, policy: ThrottlePolicy) -> datetime | None:
    seconds = policy.lockout(scope, row.failures)
    return row.last_failure_at + timedelta(seconds=seconds) if seconds else None


def _forgotten(row: SignInThrottle, scope: Scope, policy: ThrottlePolicy, now: datetime) -> bool:
    quiet_from = _locked_until(row, scope, policy) or row.last_failure_at
    return now >= quiet_from + timedelta(seconds=policy.forget_seconds)


def _rows(
    session: Session, keys: tuple[ThrottleKey, ...], now: datetime
) -> dict[str, SignInThrottle]:
    """The keys' rows, created when missing, locked until the transaction ends.

    On PostgreSQL a process that finds a row being created by another waits for that
    transaction, then reads and locks the row as it was left, so two processes
    charging one key take turns (SQLite's writers always do). Keys go in one order,
    so two transactions never wait for each other's second row.
    """
    wanted = sorted(k.key for k in keys)
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    for key in wanted:
        values = {"key": key, "failures": 0, "last_failure_at": now}
        session.connection().execute(
            dialect.insert(_ROWS).values(**values).on_conflict_do_nothing()
        )
    statement = (
        select(SignInThrottle)
        .where(col(SignInThrottle.key).in_(wanted))
        .order_by(col(SignInThrottle.key))
        .with_for_update()
    )
    return {row.key: row for row in session.exec(statement)}


def lock_of(
    session: Session, key: ThrottleKey, policy: ThrottlePolicy, now: datetime
) -> tuple[int, Lock | None]:
    """The failures remembered for ``key`` and its lock, if it is locked now."""
    row = session.get(SignInThrottle, key.key)
    if row is None or _forgotten(row, key.scope, policy, now):
        return 0, None
    until = _locked_until(row, key.scope, policy)
    return row.failures, Lock(key, row.failures, until) if until and until > now else None


def charge(
    session: Session, keys: tuple[ThrottleKey, ...], policy: ThrottlePolicy, now: datetime
) -> Lock | dict[ThrottleKey, int]:
    """Refuse with the first lock on ``keys``; else count an attempt against each key
    and return each key's failures now."""
    rows = _rows(session, keys, now)
    for key in keys:
        row = rows[key.key]
        if not _forgotten(row, key.scope, policy, now):
            until = _locked_until(row, key.scope, policy)
            if until is not None and until > now:
                return Lock(key, row.failures, until)
    counts: dict[ThrottleKey, int] = {}
    for key in keys:
        row = rows[key.key]
        row.failures = 1 if _forgotten(row, key.scope, policy, now) else row.failures + 1
        row.last_failure_at = now
        session.add(row)
        counts[key] = row.failures
    return counts


def take_back(session: Session, account: ThrottleKey, client: ThrottleKey) -> None:
    """A right password: forget the account's failures and take the client's charge back."""
    session.connection().execute(delete(_ROWS).where(_ROWS.c.key == account.key))
    session.connection().execute(
        update(_ROWS)
        .where(_ROWS.c.key == client.key, _ROWS.c.failures > 0)
        .values(failures=_ROWS.c.failures - 1)
    )


def note_failure(
    session: Session, counts: dict[ThrottleKey, int], policy: ThrottlePolicy, clock: Clock
) -> None:
    """A wrong password: audit each key it locks, and drop rows long forgotten."""
    for key, failures in counts.items():
        seconds = policy.lockout(key.scope, failures)
        if seconds:
            payload = LockoutPayload(
                scope=key.scope.value, name=key.name, failures=failures, seconds=seconds
            )
            record_event(
                session,
                actor=ANONYMOUS,
                action=AuditAction.AUTH_LOCKOUT,
                subject=key.subject,
                payload=payload,
                clock=clock,
            )
    # Every row last failed before this is forgotten, locked or not (an index range).
    stale = clock() - timedelta(seconds=policy.max_lockout_seconds + policy.forget_seconds)
    session.connection().execute(delete(_ROWS).where(_ROWS.c.last_failure_at < stale))


def release(
    session: Session, key: ThrottleKey, *, policy: ThrottlePolicy, actor: str, clock: Clock
) -> int:
    """Forget ``key``'s failures, lifting any lock, audited; return how many there were
    (0, and nothing audited, if none were remembered)."""
    failures, _lock = lock_of(session, key, policy, clock())
    session.connection().execute(delete(_ROWS).where(_ROWS.c.key == key.key))
    if failures:
        record_event(
            session,
            actor=actor,
            action=AuditAction.AUTH_UNLOCK,
            subject=key.subject,
            payload=UnlockPayload(scope=key.scope.value, name=key.name, failures=failures),
            clock=clock,
        )
    return failures


def remembered(session: Session, policy: ThrottlePolicy, now: datetime) -> list[Standing]:
    """Every key with failures remembered now, the locked ones first, by key."""
    found: list[Standing] = []
    for row in session.exec(select(SignInThrottle).order_by(col(SignInThrottle.key))):
        scope_text, _, name = row.key.partition(":")
        key = ThrottleKey(Scope(scope_text), name)
        if row.failures and not _forgotten(row, key.scope, policy, now):
            until = _locked_until(row, key.scope, policy)
            found.append(Standing(key, row.failures, until if until and until > now else None))
    return sorted(found, key=lambda standing: standing.locked_until is None)
