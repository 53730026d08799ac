"""Idempotency keys: a client that lost a capture's response retries it safely.

A capture or new-version request may carry an ``Idempotency-Key`` (any printable
ASCII up to 255 characters, unique per client request; a UUID is a good choice).
Keys belong to the user who sent them. For each key:

1. :func:`claim` looks it up. A key already completed for the same request (same
   route, fields and file bytes: its *fingerprint*) returns the original response
   to replay: nothing is captured or audited again. The same key with a different
   request is refused (422); a key whose first request is still running is
   refused with 409 (retry shortly). Otherwise the key is claimed: a ``pending``
   row is committed, and the database's uniqueness on (user, key) lets only one of
   two concurrent requests claim it.
2. The capture's own transaction completes the claim with the response
   (:func:`complete`), so a capture and its key's record commit together or not
   at all. A claim another request has taken over (see below) cannot be completed,
   and then the capture rolls back.
3. A capture that fails releases the claim (:func:`release`): the error is not
   remembered and the client may retry with the same key.

A claim left ``pending`` by a crash is taken over by the next request with that
key once it is :data:`STALE_CLAIM` old. Keys are kept for
``idempotency_key_hours`` (24 by default), after which the key is forgotten
(:func:`purge_expired`, a background step) and may be used again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from records_service.db import read_scope, session_scope
from records_service.errors import Conflict, InvalidInput
from records_service.records.models import IdempotencyKey

HEADER = "Idempotency-Key"
# A claim this old is from a request that died (a request holds it for seconds).
STALE_CLAIM = timedelta(minutes=15)
PENDING, DONE = "pending", "done"


class IdempotencyKeyReused(InvalidInput):
    """The key was first used for a different request."""

    type_slug = "idempotency-key-reused"
    title = "Idempotency key reused"


class IdempotencyKeyInUse(Conflict):
    """The key's first request has not finished yet."""

    type_slug = "idempotency-key-in-use"
    title = "Idempotency key in use"
    retry_after = 2


@dataclass(frozen=True)
class Claim:
    """This request holds the key until it completes or releases it."""

    id: int
    token: str


@dataclass(frozen=True)
class Replay:
    """The response the key's first request got."""

    status_code: int
    body: Any
    location: str | None


def fingerprint(parts: dict[str, Any]) -> str:
    """The SHA-256 of a request's canonical description (route, fields, file hash)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def claim(
    engine: Engine,
    *,
    user_id: int,
    key: str,
    fingerprint: str,
    now: datetime,
    keep: timedelta,
) -> Claim | Replay:
    """Claim ``key`` for this request, or return the response to replay; see the module."""
    for _ in range(2):  # a second look if a concurrent request inserted the key first
        with read_scope(engine) as session:
            row = _find(session, user_id, key)
        if row is not None:
            outcome = _existing(engine, row, fingerprint, now)
            if outcome is not None:
                return outcome
        try:
            return _insert(engine, user_id, key, fingerprint, now, keep)
        except IntegrityError:
            continue
    raise IdempotencyKeyInUse(f"a request with {HEADER} {key!r} is still being processed; retry")


def _find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.exec(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).first()


def _existing(
    engine: Engine, row: IdempotencyKey, fingerprint: str, now: datetime
) -> Claim | Replay | None:
    """What an existing row means for this request; ``None`` if it was expired and removed."""
    if row.expires_at <= now:
        _remove(engine, row.id, token=None)
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"{HEADER} {row.key!r} was first used at {row.created_at.isoformat()} for a "
            "different request (another route, other fields or another file); send a new "
            "key with a new request"
        )
    if row.state == DONE:
        body = json.loads(row.response) if row.response is not None else None
        return Replay(row.status_code or 200, body, row.location)
    if now - row.created_at < STALE_CLAIM:
        raise IdempotencyKeyInUse(
            f"the first request with {HEADER} {row.key!r} is still being processed; "
            "retry in a moment to get its response"
        )
    return _take_over(engine, row, now)


def _take_over(engine: Engine, row: IdempotencyKey, now: datetime) -> Claim:
    """Claim a key whose first request died before it completed (nothing was captured)."""
    assert row.id is not None
    token = secrets.token_hex(16)
    with session_scope(engine) as session:
        taken = session.exec(
            update(IdempotencyKey)
            .where(col(IdempotencyKey.id) == row.id, col(IdempotencyKey.token) == row.token)
            .values(token=token, created_at=now)
        ).rowcount
    if taken != 1:
        raise IdempotencyKeyInUse(f"{HEADER} {row.key!r} was claimed by another request; retry")
    return Claim(row.id, token)


def _insert(
    engine: Engine, user_id: int, key: str, fingerprint: str, now: datetime, keep: timedelta
) -> Claim:
    token = secrets.token_hex(16)
    row = IdempotencyKey(
        user_id=user_id,
        key=key,
        fingerprint=fingerprint,
        state=PENDING,
        token=token,
        created_at=now,
        expires_at=now + keep,
    )
    with session_scope(engine) as session:
        session.add(row)
        session.flush()
        assert row.id is not None
        return Claim(row.id, token)


def complete(
    session: Session, held: Claim, *, status_code: int, body: Any, location: str | None
) -> None:
    """Record the response in the capture's transaction; refuse if the claim was lost."""
    done = session.exec(
        update(IdempotencyKey)
        .where(
            col(IdempotencyKey.id) == held.id,
            col(IdempotencyKey.token) == held.token,
            col(IdempotencyKey.state) == PENDING,
        )
        .values(
            state=DONE,
            status_code=status_code,
            response=json.dumps(body, separators=(",", ":")),
            location=location,
        )
    ).rowcount
    if done != 1:
        raise IdempotencyKeyInUse(f"another request took over this {HEADER}; retry")


def release(engine: Engine, held: Claim) -> None:
    """Forget a claim whose request failed, so that a retry with the key starts afresh."""
    _remove(engine, held.id, token=held.token)


def _remove(engine: Engine, row_id: int | None, *, token: str | None) -> None:
    statement = delete(IdempotencyKey).where(col(IdempotencyKey.id) == row_id)
    if token is not None:
        statement = statement.where(
            col(IdempotencyKey.token) == token, col(IdempotencyKey.state) == PENDING
        )
    with session_scope(engine) as session:
        session.execute(statement)


def purge_expired(engine: Engine, now: datetime) -> int:
    """Forget every key past its time; returns how many. Reads first, so a quiet service
    takes no write lock."""
    expired = col(IdempotencyKey.expires_at) <= now
    with read_scope(engine) as session:
        if session.exec(select(IdempotencyKey.id).where(expired).limit(1)).first() is None:
            return 0
    with session_scope(engine) as session:
        return int(session.exec(delete(IdempotencyKey).where(expired)).rowcount)
