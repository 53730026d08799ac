"""Web sign-in sessions as rows: opening and ending them, with their audit entries.

The browser's side (the signed cookie) is ``records_service.web.sessions``. The rows
live here so that every way a session ends (signing out, a new password, an admin
ending them, disabling the user from the web or the command line) takes one path
and is audited alike. A row is keyed by the SHA-256 of the session id the cookie
carries; the audit log shows the first characters of that hash, enough to pair a
sign-in with its sign-out and no use for getting in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, SessionPayload
from records_service.audit.log import record_event
from records_service.auth.models import User, WebSession
from records_service.clock import Clock

AUDITED_ID_CHARS = 16


def id_hash(session_id: str) -> str:
    """The key of a session's row."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(db: Session, user: User, *, clock: Clock) -> str:
    """Start a session for ``user`` (audited as a sign-in) and return its id."""
    assert user.id is not None
    session_id = secrets.token_urlsafe(32)
    key = id_hash(session_id)
    db.add(WebSession(id_hash=key, user_id=user.id, started_at=clock()))
    _audit(db, AuditAction.AUTH_SIGN_IN, key, actor=user.username, owner=user.username, clock=clock)
    return session_id


def end_session(db: Session, session_id: str, *, clock: Clock, user: User | None) -> bool:
    """End the session if it is open; say whether it was.

    It is audited as a sign-out by ``user``, the one signed in with it. Without a
    user (a session that had already lapsed, or a browser signing in again, whose
    previous session may have been someone else's) it ends unrecorded.
    """
    key = id_hash(session_id)
    result = db.exec(
        update(WebSession)
        .where(col(WebSession.id_hash) == key, col(WebSession.ended_at).is_(None))
        .values(ended_at=clock())
    )
    ended = bool(result.rowcount)
    if ended and user is not None:
        name = user.username
        _audit(db, AuditAction.AUTH_SIGN_OUT, key, actor=name, owner=name, clock=clock)
    return ended


def live_sessions(db: Session, user: User, *, since: datetime | None = None) -> list[WebSession]:
    """The user's sessions not yet ended, started after ``since`` when given."""
    query = select(WebSession).where(
        WebSession.user_id == user.id, col(WebSession.ended_at).is_(None)
    )
    if since is not None:
        query = query.where(col(WebSession.started_at) > since)
    return list(db.exec(query.order_by(col(WebSession.started_at))).all())


def end_user_sessions(
    db: Session, user: User, *, actor: str, clock: Clock, since: datetime | None = None
) -> int:
    """End the user's open sessions (those started after ``since``, when given), each
    audited as a sign-out by ``actor``; return how many ended."""
    now, owner = clock(), user.username
    rows = live_sessions(db, user, since=since)
    for row in rows:
        row.ended_at = now
        db.add(row)
        _audit(db, AuditAction.AUTH_SIGN_OUT, row.id_hash, actor=actor, owner=owner, clock=clock)
    return len(rows)


def _audit(
    db: Session, action: AuditAction, key: str, *, actor: str, owner: str, clock: Clock
) -> None:
    """Record a session's start or end by ``actor``; ``owner`` is the user signed in."""
    record_event(
        db,
        actor=actor,
        action=action,
        subject=f"user:{owner}",
        payload=SessionPayload(session=key[:AUDITED_ID_CHARS]),
        clock=clock,
    )
