"""Web login sessions: the signing key, what a session holds, and who is signed in.

A session is a signed cookie (Starlette's ``SessionMiddleware``) and a row in
``web_sessions``. The cookie holds the user's id, the session's id, when they signed
in, a fingerprint of their password hash and the CSRF token; the row (keyed by the
SHA-256 of the session's id) says whether the session is still open; the rows are
``records_service.auth.sessions``'s. Signing out ends the row, so a copy of the
cookie taken earlier stops working as well. Changing a password ends all of the
user's other sessions, disabling the user ends them all, and a session older than
``web.session_max_age`` is refused even if the cookie lives. A cookie without a
session id (signed before sessions had rows) is refused: its holder signs in again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session
from starlette.requests import Request

from records_service.auth.models import User, WebSession
from records_service.auth.sessions import end_session as end_session_row
from records_service.auth.sessions import (
    end_user_sessions,
    id_hash,
    live_sessions,
    open_session,
)
from records_service.db import read_scope, session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings
from records_service.web.csrf import renew_csrf_token

COOKIE_NAME = "records_session"
SESSION_KEY_FILE = "session.key"


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


def start_session(
    request: Request, services: Services, user: User, *, end_others: bool = False
) -> None:
    """Sign ``user`` in: a new session (no fixation) with a new CSRF token; audited.

    The browser's previous session, if any, ends. With ``end_others`` (after a
    password change) every live session of the user ends too, each recorded as a
    sign-out by the user.
    """
    clock = services.clock
    with session_scope(services.engine) as db:
        if end_others:
            end_open_sessions(db, services, user, actor=user.username)
        previous = _sid(request)
        if previous is not None:
            end_session_row(db, previous, clock=clock, user=None)
        session_id = open_session(db, user, clock=clock)
    request.session.clear()
    request.session.update(
        {
            "uid": user.id,
            "sid": session_id,
            "login_at": clock().timestamp(),
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
            end_session_row(db, sid, clock=services.clock, user=user)
    request.session.clear()
    renew_csrf_token(request.session)


def open_sessions(db: Session, services: Services, user: User) -> list[WebSession]:
    """The user's live sessions: not ended, and younger than ``web.session_max_age``."""
    return live_sessions(db, user, since=_lapse(services))


def end_open_sessions(db: Session, services: Services, user: User, *, actor: str) -> int:
    """End the user's live sessions (a lost or shared computer), each recorded as a
    sign-out by ``actor``; return how many ended."""
    return end_user_sessions(db, user, actor=actor, clock=services.clock, since=_lapse(services))


def _lapse(services: Services) -> datetime:
    """Sessions started before this have outlived ``web.session_max_age``."""
    return services.clock() - timedelta(seconds=services.settings.web.session_max_age)


def _sid(request: Request) -> str | None:
    sid = request.session.get("sid")
    return sid if isinstance(sid, str) else None


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
        row = session.get(WebSession, id_hash(sid))
    if row is None or row.ended_at is not None or row.user_id != uid:
        return None
    if user is None or user.disabled or not user.password_hash:
        return None
    if data.get("pwfp") != password_fingerprint(user):
        return None
    return user
