"""Web login sessions: the signing key, what a session holds, and who is signed in.

A session is a signed cookie (Starlette's ``SessionMiddleware``): it holds the user's
id, when they signed in, a fingerprint of their password hash and the CSRF token.
Changing a password or disabling the user ends their sessions at the next request,
and a session older than ``web.session_max_age`` is refused even if the cookie lives.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from starlette.requests import Request

from records_service.auth.models import User
from records_service.db import read_scope
from records_service.services import Services
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


def start_session(request: Request, user: User, *, now: float) -> None:
    """Sign ``user`` in: a fresh session (no fixation) with a new CSRF token."""
    request.session.clear()
    request.session.update({"uid": user.id, "login_at": now, "pwfp": password_fingerprint(user)})
    renew_csrf_token(request.session)


def end_session(request: Request) -> None:
    """Sign out: forget everything but a new CSRF token for the login form."""
    request.session.clear()
    renew_csrf_token(request.session)


def signed_in_user(request: Request, services: Services, *, now: float) -> User | None:
    """The active user of this browser session, or ``None``."""
    data: dict[str, Any] = request.session
    uid, login_at = data.get("uid"), data.get("login_at")
    if not isinstance(uid, int) or not isinstance(login_at, int | float):
        return None
    if now - login_at > services.settings.web.session_max_age:
        return None
    # Every page asks this: a read-only session, which on SQLite never queues for
    # the write lock behind captures.
    with read_scope(services.engine) as session:
        user = session.get(User, uid)
    if user is None or user.disabled or not user.password_hash:
        return None
    if data.get("pwfp") != password_fingerprint(user):
        return None
    return user
