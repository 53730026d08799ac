"""Signing in with a username and password, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from records_service.api.deps import ServicesDep
from records_service.auth.service import USERNAME_PATTERN, check_password, record_auth_failure
from records_service.bounds import FormText, SearchText
from records_service.db import session_scope
from records_service.errors import Unauthenticated
from records_service.web.rendering import flash, redirect, render
from records_service.web.sessions import end_session, signed_in_user, start_session

router = APIRouter()


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the dashboard (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, services: ServicesDep, next: SearchText | None = None) -> Response:
    """The sign-in page (or straight on, for someone already signed in)."""
    now = services.clock().timestamp()
    if signed_in_user(request, services, now=now) is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "form": {}}, user=None)


@router.post("/login")
def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[FormText, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[SearchText, Form()] = "/",
) -> Response:
    """Check the password; failures are audited and answered with the same message."""
    name = username.strip().lower()
    try:
        with session_scope(services.engine) as session:
            user = check_password(session, username=name, password=password)
    except Unauthenticated:
        _audit_failure(services, name)
        errors = {"password": "Enter a correct username and password"}
        context = {"next": safe_next(next), "errors": errors, "form": {"username": username}}
        return render(request, "login.html", context, user=None, status_code=400)
    start_session(request, services, user)
    return redirect(safe_next(next))


def _audit_failure(services: ServicesDep, name: str) -> None:
    # Only a well-formed user name goes into the permanent log: a password typed
    # into the wrong box must not be kept for ever.
    who = f" for {name}" if USERNAME_PATTERN.fullmatch(name) else ""
    with session_scope(services.engine) as session:
        record_auth_failure(
            session,
            reason=f"wrong username or password{who}",
            method="password",
            clock=services.clock,
        )


@router.post("/logout")
def logout(request: Request, services: ServicesDep) -> Response:
    """End the session and return to the sign-in page."""
    user = signed_in_user(request, services, now=services.clock().timestamp())
    end_session(request, services, user)
    flash(request, "You have signed out.")
    return redirect("/login")
