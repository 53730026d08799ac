"""Turning page data into HTML: the Jinja environment, shared page context and headers.

Owns template lookup, autoescaping, the filters templates use (dates, sizes, money),
one-shot flash messages and the security headers every page carries. Pages decide
what to show; this module decides how every page is wrapped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.extraction.media_types import in_words
from records_service.finance.reconcile import pounds
from records_service.web.csrf import csrf_token

SERVICE_NAME = "Records service"

# Inline previews are framed from our own pages only; scripts and styles come from /static.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
        "base-uri 'none'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Navigation: (label, path, permission needed to see it).
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("Dashboard", "/", Permission.READ),
    ("Upload", "/upload", Permission.CAPTURE),
    ("Search", "/search", Permission.READ),
    ("Records", "/records", Permission.READ),
    ("Contracts", "/contracts", Permission.READ),
    ("Register", "/transparency", Permission.READ),
    ("Retention", "/retention", Permission.READ_AUDIT),
    ("Audit", "/audit", Permission.READ_AUDIT),
    ("Panel's report", "/reports/panel", Permission.READ_AUDIT),
    ("Imports", "/imports", Permission.MANAGE_IMPORTS),
    ("Admin", "/admin/users", Permission.MANAGE_USERS),
)


def _format_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%-d %b %Y %H:%M UTC")
    return value.strftime("%-d %b %Y")


def _format_day_only(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%-d %b %Y")


def _format_long_day(value: date | datetime | None) -> str:
    """A date as people write it, month in full: 31 March 2025."""
    return "—" if value is None else value.strftime("%-d %B %Y")


def _format_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    scaled = float(size)
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"


def _format_pence(pence: int | None) -> str:
    # Integer arithmetic: exact at any amount, and "-£5.00" below zero.
    return "—" if pence is None else pounds(pence)


def _format_value(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _safe_snippet(snippet: str) -> Markup:
    """A search snippet where only ``<mark>`` survives as markup, whatever the index sent."""
    escaped = str(escape(html.unescape(snippet)))
    marked = escaped.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>")
    return Markup(marked)  # noqa: S704 (everything but <mark> was escaped just above)


def build_environment() -> Environment:
    """The Jinja environment for the web templates (autoescaped, strict about typos)."""
    env = Environment(
        loader=PackageLoader("records_service.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _format_date
    env.filters["dayonly"] = _format_day_only
    env.filters["longday"] = _format_long_day
    env.filters["filekind"] = in_words
    env.filters["size"] = _format_size
    env.filters["pounds"] = _format_pence
    env.filters["shown"] = _format_value
    env.filters["snippet"] = _safe_snippet
    return env


@cache
def environment() -> Environment:
    """The shared environment, built on first use (not at import time)."""
    return build_environment()


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Queue a message for the next page this browser renders."""
    queued = list(request.session.get("flash", []))
    queued.append({"kind": kind, "text": message})
    request.session["flash"] = queued


def _take_flashes(request: Request) -> list[dict[str, str]]:
    queued: list[dict[str, str]] = request.session.pop("flash", [])
    return queued


def nav_for(user: User | None, current_path: str) -> list[dict[str, Any]]:
    """The navigation links ``user`` may follow, marking the one for ``current_path``."""
    if user is None:
        return []
    links = []
    for label, path, permission in NAV:
        if not allows(user.role_set, permission):
            continue
        here = current_path == path if path == "/" else current_path.startswith(path)
        links.append({"label": label, "path": path, "current": here})
    return links


def can(user: User | None, permission: str) -> bool:
    """Whether ``user`` holds ``permission`` (for templates deciding what to offer)."""
    return user is not None and allows(user.role_set, Permission(permission))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    user: User | None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` inside the site layout for ``user``."""
    values: dict[str, Any] = {
        "service_name": SERVICE_NAME,
        "user": user,
        "csrf_token": csrf_token(request.session),
        "nav": nav_for(user, request.url.path),
        "flashes": _take_flashes(request),
        "can": lambda permission: can(user, permission),
        "errors": {},
        "form": {},
        # Date fields (day, month, year) to mark as wrong: name -> the boxes.
        "date_wrong": {},
    }
    values.update(context or {})
    body = environment().get_template(template).render(values)
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def redirect(path: str) -> RedirectResponse:
    """See-other redirect after a successful form post (so reloading does not repost)."""
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})
