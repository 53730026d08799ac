"""Cross-site request forgery protection for every web form.

Each browser session holds one random token; every form that changes state sends it
back, and :func:`check_csrf` refuses any unsafe request to the web pages that does not
carry it. The session cookie is also ``SameSite=Lax``; the token is the check that
does not depend on the browser.

Where the token travels depends on the body. A small URL-encoded form sends it in a
hidden ``csrf_token`` field. A body that could be large (a multipart upload, or
anything else) must send it outside the body, in the ``X-CSRF-Token`` header or a
``csrf_token`` query parameter (the upload forms put it in their ``action`` address,
so they work without JavaScript): :func:`check_csrf_before_body` can then refuse a
forged upload before a byte of it is read, and nothing parses a multipart body to
look for the token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import HTTPConnection, Request

from records_service.errors import PermissionDenied

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
URLENCODED = "application/x-www-form-urlencoded"
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


def token_outside_body(request: HTTPConnection) -> str | None:
    """The token sent in the ``X-CSRF-Token`` header or the ``csrf_token`` query parameter."""
    return request.headers.get(HEADER) or request.query_params.get(FIELD)


def _is_urlencoded(request: HTTPConnection) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0]
    return media_type.strip().lower() == URLENCODED


def _rejected() -> CsrfRejected:
    return CsrfRejected(
        "this form has expired or did not come from this service; "
        "go back, reload the page and try again"
    )


def check_csrf_before_body(request: Request) -> None:
    """Refuse, without reading the body, an unsafe request :func:`check_csrf` would refuse.

    Only a URL-encoded form without a token outside it (whose size the caller bounds)
    is left for :func:`check_csrf` to read; every other body needs the token outside it.
    """
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_KEY)
    if not isinstance(expected, str) or not expected:
        raise _rejected()  # no session token: nothing this request sends could match
    sent = token_outside_body(request)
    if sent is None and _is_urlencoded(request):
        return  # the field is compared once the (small) form is read
    if not tokens_match(expected, sent):
        raise _rejected()


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request that does not carry the session's token.

    Used as a router-wide dependency of the web pages, so no form can forget it.
    Only a URL-encoded form is read for the field; a multipart body is never parsed
    to look for it (see the module's docstring).
    """
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_KEY)
    sent: object = token_outside_body(request)
    if sent is None and _is_urlencoded(request):
        form = await request.form()
        sent = form.get(FIELD)
    if not tokens_match(expected, sent):
        raise _rejected()
