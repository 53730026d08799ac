"""Checking a web password: throttled, audited, and as slow for every name.

The web faces call :func:`check_sign_in` for signing in and for the current password
when changing it. The order keeps SQLite's write lock out of Argon2's 0.2-0.5 s:

1. charge the attempt to the user name and the client address, or refuse at once if
   either is locked (:mod:`records_service.auth.throttle`; a refusal is counted per
   address and interval, :mod:`records_service.auth.failures`);
2. read the user, end the read, then run Argon2, against a dummy hash when the name
   has no usable password, so unknown names take as long as real ones;
3. a right password takes the charge back; a wrong one is audited (``auth.failure``,
   with any ``auth.lockout`` it causes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy import Engine

from records_service.auth.failures import FailureReason, count_failure
from records_service.auth.models import User
from records_service.auth.passwords import verify_or_pretend
from records_service.auth.service import password_user, record_auth_failure
from records_service.auth.throttle import (
    Lock,
    Scope,
    ThrottleKey,
    ThrottlePolicy,
    charge,
    note_failure,
    take_back,
)
from records_service.clock import Clock
from records_service.db import read_scope, session_scope
from records_service.errors import TooManyAttempts, Unauthenticated


@dataclass(frozen=True)
class SignInContext:
    """What a password check needs."""

    engine: Engine
    policy: ThrottlePolicy
    clock: Clock
    failure_interval_seconds: int


@dataclass(frozen=True)
class Attempt:
    """A password typed for ``username`` by the client at ``host``; a wrong one is
    audited with ``failure_reason``."""

    username: str
    password: str
    host: str | None
    failure_reason: str


def check_sign_in(context: SignInContext, attempt: Attempt) -> User:
    """The user if the password is right; ``Unauthenticated`` if not, ``TooManyAttempts``
    (without checking) while the name or the address is locked."""
    account, client = ThrottleKey.account(attempt.username), ThrottleKey.client(attempt.host)
    with session_scope(context.engine) as session:
        charged = charge(session, (account, client), context.policy, context.clock())
    if isinstance(charged, Lock):
        _refuse(context, charged, client)
    with read_scope(context.engine) as session:
        user = password_user(session, attempt.username)
    right = verify_or_pretend(attempt.password, user.password_hash if user else None)
    with session_scope(context.engine) as session:
        if right and user is not None:
            take_back(session, account, client)
            return user
        record_auth_failure(
            session,
            reason=attempt.failure_reason,
            method="password",
            source=client.name,
            clock=context.clock,
        )
        note_failure(session, charged, context.policy, context.clock)
    raise Unauthenticated("wrong username or password")


def _refuse(context: SignInContext, lock: Lock, client: ThrottleKey) -> NoReturn:
    count_failure(
        context.engine,
        source=client.name,
        reason=FailureReason.LOCKED_OUT,
        interval_seconds=context.failure_interval_seconds,
        clock=context.clock,
    )
    now = context.clock()
    raise TooManyAttempts(lock_message(lock, now), retry_after=lock.retry_after(now))


def lock_message(lock: Lock, now: datetime) -> str:
    """What the person refused is told: which lock, and how long it lasts."""
    if lock.key.scope is Scope.ACCOUNT:
        what = "There have been too many failed attempts to sign in with this username"
    else:
        what = "There have been too many failed sign-in attempts from your network address"
    wait = _duration(lock.retry_after(now))
    return f"{what}. Try again in {wait}, or ask an administrator to release the lock."


def _duration(seconds: int) -> str:
    count, unit = (seconds, "second") if seconds < 60 else (math.ceil(seconds / 60), "minute")
    return f"{count} {unit}" + ("" if count == 1 else "s")
