"""Attaching the web interface to the app: sessions, pages, static files, HTML errors.

:func:`mount_web` is the one call the app factory makes. Errors raised on web pages
become HTML pages; errors under ``/api`` keep their problem+json responses, because
the API's handlers (installed first) are kept and called for those paths.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from records_service.auth.models import User
from records_service.errors import DomainError
from records_service.runtime.services import Services
from records_service.settings import Settings
from records_service.storage import StorageError, StorageFull
from records_service.web.deps import LoginRequired
from records_service.web.pages import router
from records_service.web.rendering import redirect, render
from records_service.web.sessions import COOKIE_NAME, session_secret, signed_in_user

Handler = Callable[[Request, Exception], Awaitable[Response]]
_NOT_WEB = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def is_web_path(path: str) -> bool:
    """Whether ``path`` belongs to the web interface rather than the API or its docs."""
    return not (path == "/api" or path.startswith("/api/") or path in _NOT_WEB)


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Add the web pages to ``app``; call after the API's error handlers are installed."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=COOKIE_NAME,
        max_age=settings.web.session_max_age,
        same_site="lax",
        https_only=settings.web.cookie_secure,
    )
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("records_service.web", "static")]), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    for error in (DomainError, StarletteHTTPException, RequestValidationError, StorageError):
        original: Any = app.exception_handlers.get(error)
        app.add_exception_handler(error, _html_for_web(original))


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = "/login" if exc.next_path == "/" else f"/login?next={_quote(exc.next_path)}"
    return redirect(target)


def _quote(path: str) -> str:
    return quote(path, safe="/")


def _html_for_web(original: Handler | None) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not is_web_path(request.url.path) and original is not None:
            return await original(request, exc)
        return _error_page(request, exc)

    return handle


def _describe(exc: Exception) -> tuple[int, str, str]:
    match exc:
        case DomainError():
            return exc.status, exc.title, exc.detail
        case StarletteHTTPException(status_code=404):
            return 404, "Page not found", "If you typed the address, check it is correct."
        case StarletteHTTPException():
            return exc.status_code, "Something went wrong", str(exc.detail)
        case RequestValidationError():
            return 422, "Invalid request", "The address or form had a value this page cannot use."
        case StorageFull():
            return 503, "Storage full", "The document store's disk is full; nothing was stored."
        case _:
            return 503, "Storage unavailable", "The document store cannot be reached; try later."


def _error_page(request: Request, exc: Exception) -> Response:
    status, title, detail = _describe(exc)
    user = _user_or_none(request)
    page = render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        user=user,
        status_code=status,
    )
    if isinstance(exc, DomainError) and exc.retry_after is not None:
        page.headers["Retry-After"] = str(exc.retry_after)
    return page


def _user_or_none(request: Request) -> User | None:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None or "session" not in request.scope:
        return None
    return signed_in_user(request, services, now=services.clock().timestamp())
