"""Web login sessions: the signing key, what a session holds, and who is signed in.

A session is a signed cookie (Starlette's ``SessionMiddleware``) and a row in
``web_sessions``. The cookie holds the user's id, the session's id, when they signed
in, a fingerprint of their password hash and the CSRF token; the row (keyed by the
SHA-256 of the session's id) says whether the session is still open. Signing out
ends the row, so a copy of the cookie taken earlier stops working as well. Changing
a password ends all of the user's other sessions, disabling the user ends them at
the next request, and a session older than ``web.session_max_age`` is refused even
if the cookie lives. A cookie without a session id (signed before sessions had
rows) is refused: its holder signs in again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select
from starlette.requests import Request

from records_service.audit.actions import AuditAction, SessionPayload
from records_service.audit.log import record_event
from records_service.auth.models import User, WebSession
from records_service.db import read_scope, session_scope
from records_service.services import Services
from records_service.settings import Settings
from records_service.web.csrf import renew_csrf_token

COOKIE_NAME = "records_session"
SESSION_KEY_FILE = "session.key"
# How much of a session's key hash the audit log shows: enough to pair a sign-in with
# its sign-out.
AUDITED_ID_CHARS = 16


def session_key_path(settings: Settings) -> Path:
    """Where the generated session-signing key is kept."""
    return settings.data_dir / "keys" / SESSION_KEY_FILE


def session_secret(settings: Settings) -> str:
    """The configured signing key, or the one generated into the data directory."""
    configured = settings.web.session_secret.get_secret_value()
    if configured:
        return configured
    path = session_key_path(settings)
    if not path.exists():
        _write_new_key(path)
    return path.read_text(encoding="ascii").strip()


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: if two processes start together, the second keeps the first's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


def password_fingerprint(user: User) -> str:
    """A short digest of the stored hash: it changes whenever the password does."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(
    request: Request, services: Services, user: User, *, end_others: bool = False
) -> None:
    """Sign ``user`` in: a new session (no fixation) with a new CSRF token; audited.

    The browser's previous session, if any, ends. With ``end_others`` (after a
    password change) every live session of the user ends too, each recorded as a
    sign-out by the user.
    """
    assert user.id is not None
    session_id = secrets.token_urlsafe(32)
    id_hash = _id_hash(session_id)
    now = services.clock()
    with session_scope(services.engine) as db:
        if end_others:
            end_user_sessions(db, services, user, actor=user.username)
        _end_row(db, now, _sid(request))
        db.add(WebSession(id_hash=id_hash, user_id=user.id, started_at=now))
        name = user.username
        _audit(db, services, AuditAction.AUTH_SIGN_IN, id_hash, actor=name, owner=name)
    request.session.clear()
    request.session.update(
        {
            "uid": user.id,
            "sid": session_id,
            "login_at": now.timestamp(),
            "pwfp": password_fingerprint(user),
        }
    )
    renew_csrf_token(request.session)


def end_session(request: Request, services: Services, user: User | None) -> None:
    """Sign out: end the session's row and forget everything but a new CSRF token.

    The audit log records it for ``user``, the one signed in; a session that had
    already lapsed (expired, or its user disabled) ends unrecorded.
    """
    sid = _sid(request)
    if sid is not None:
        with session_scope(services.engine) as db:
            if _end_row(db, services.clock(), sid) and user is not None:
                name = user.username
                _audit(
                    db, services, AuditAction.AUTH_SIGN_OUT, _id_hash(sid), actor=name, owner=name
                )
    request.session.clear()
    renew_csrf_token(request.session)


def _audit(
    db: Session, services: Services, action: AuditAction, id_hash: str, *, actor: str, owner: str
) -> None:
    """Record a session's start or end by ``actor``; ``owner`` is the user signed in."""
    record_event(
        db,
        actor=actor,
        action=action,
        subject=f"user:{owner}",
        payload=SessionPayload(session=id_hash[:AUDITED_ID_CHARS]),
        clock=services.clock,
    )


def open_sessions(db: Session, services: Services, user: User) -> list[WebSession]:
    """The user's live sessions: not ended, and younger than ``web.session_max_age``."""
    lapse = services.clock() - timedelta(seconds=services.settings.web.session_max_age)
    query = select(WebSession).where(
        WebSession.user_id == user.id,
        col(WebSession.ended_at).is_(None),
        col(WebSession.started_at) > lapse,
    )
    return list(db.exec(query.order_by(col(WebSession.started_at))).all())


def end_user_sessions(db: Session, services: Services, user: User, *, actor: str) -> int:
    """End every open session of ``user`` (a lost or shared computer), each recorded as
    a sign-out by ``actor``; return how many ended."""
    now, owner = services.clock(), user.username
    rows = open_sessions(db, services, user)
    for row in rows:
        row.ended_at = now
        db.add(row)
        _audit(db, services, AuditAction.AUTH_SIGN_OUT, row.id_hash, actor=actor, owner=owner)
    return len(rows)


def _sid(request: Request) -> str | None:
    sid = request.session.get("sid")
    return sid if isinstance(sid, str) else None


def _end_row(db: Session, now: datetime, sid: str | None) -> bool:
    """End the session ``sid`` if it is open; say whether it was."""
    if sid is None:
        return False
    result = db.exec(
        update(WebSession)
        .where(col(WebSession.id_hash) == _id_hash(sid), col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    return bool(result.rowcount)


def signed_in_user(request: Request, services: Services, *, now: float) -> User | None:
    """The active user of this browser session, or ``None``."""
    data: dict[str, Any] = request.session
    uid, sid, login_at = data.get("uid"), data.get("sid"), data.get("login_at")
    if not isinstance(uid, int) or not isinstance(sid, str):
        return None
    if not isinstance(login_at, int | float):
        return None
    if now - login_at > services.settings.web.session_max_age:
        return None
    # Every page asks this: a read-only session, which on SQLite never queues for
    # the write lock behind captures.
    with read_scope(services.engine) as session:
        user = session.get(User, uid)
        row = session.get(WebSession, _id_hash(sid))
    if row is None or row.ended_at is not None or row.user_id != uid:
        return None
    if user is None or user.disabled or not user.password_hash:
        return None
    if data.get("pwfp") != password_fingerprint(user):
        return None
    return user
