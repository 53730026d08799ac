"""Cross-site request forgery protection for every web form.

Each browser session holds one random token; every form that changes state sends it
back in a hidden ``csrf_token`` field, and :func:`check_csrf` refuses any unsafe
request to the web pages whose field does not match. The session cookie is also
``SameSite=Lax``; the token is the check that does not depend on the browser.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request

from records_service.errors import PermissionDenied

FIELD = "csrf_token"
SESSION_KEY = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(PermissionDenied):
    """A state-changing request without the session's CSRF token."""

    type_slug = "csrf"
    title = "Form expired"


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def renew_csrf_token(session: MutableMapping[str, Any]) -> str:
    """Replace the session's token (on login and logout)."""
    session.pop(SESSION_KEY, None)
    return csrf_token(session)


def tokens_match(expected: object, sent: object) -> bool:
    """Constant-time check that ``sent`` is the non-empty ``expected`` token."""
    if not isinstance(expected, str) or not isinstance(sent, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request whose form does not carry the session's token.

    Used as a router-wide dependency of the web pages, so no form can forget it.
    """
    if request.method in SAFE_METHODS:
        return
    content_type = request.headers.get("content-type", "")
    sent: object = None
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        sent = form.get(FIELD)
    if not tokens_match(request.session.get(SESSION_KEY), sent):
        raise CsrfRejected(
            "this form has expired or did not come from this service; "
            "go back, reload the page and try again"
        )
