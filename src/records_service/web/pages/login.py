"""Signing in with a username and password, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from records_service.auth.service import USERNAME_PATTERN
from records_service.auth.signin import Attempt, check_sign_in
from records_service.bounds import FormText, SearchText
from records_service.errors import TooManyAttempts, Unauthenticated
from records_service.runtime.requests import ServicesDep
from records_service.web.deps import client_host
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
    """Check the password (throttled); failures are audited and answered alike.

    While the name or the address is locked out the answer is 429 with Retry-After,
    whatever the password, and nothing is checked.
    """
    name = username.strip().lower()
    attempt = Attempt(
        username=name,
        password=password,
        host=client_host(request),
        failure_reason=_failure_reason(name),
    )
    try:
        user = check_sign_in(services.sign_in_context(), attempt)
    except Unauthenticated:
        return _refused(request, next, username, "Enter a correct username and password", 400)
    except TooManyAttempts as exc:
        response = _refused(request, next, username, exc.detail, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    start_session(request, services, user)
    return redirect(safe_next(next))


def _refused(request: Request, next: str, username: str, message: str, status: int) -> Response:
    context = {
        "next": safe_next(next),
        # About the pair, not either box: shown in the summary, which leads to the first.
        "errors": {"sign-in": message},
        "form": {"username": username},
    }
    return render(request, "login.html", context, user=None, status_code=status)


def _failure_reason(name: str) -> str:
    # Only a well-formed user name goes into the permanent log: a password typed
    # into the wrong box must not be kept for ever.
    who = f" for {name}" if USERNAME_PATTERN.fullmatch(name) else ""
    return f"wrong username or password{who}"


@router.post("/logout")
def logout(request: Request, services: ServicesDep) -> Response:
    """End the session and return to the sign-in page."""
    user = signed_in_user(request, services, now=services.clock().timestamp())
    end_session(request, services, user)
    flash(request, "You have signed out.")
    return redirect("/login")
