"""The signed-in user's own account: changing their password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from records_service.auth.models import User
from records_service.auth.service import get_user, set_password
from records_service.auth.signin import Attempt, check_sign_in
from records_service.db import session_scope
from records_service.errors import DomainError, TooManyAttempts, Unauthenticated
from records_service.runtime.requests import ServicesDep
from records_service.web.deps import SignedInUser, client_host
from records_service.web.rendering import flash, redirect, render
from records_service.web.sessions import start_session

router = APIRouter()


@router.get("/account/password")
def password_form(request: Request, user: SignedInUser) -> Response:
    """The form to change one's own password."""
    return render(request, "account_password.html", {}, user=user)


@router.post("/account/password")
def change_password(
    request: Request,
    services: ServicesDep,
    user: SignedInUser,
    current: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Change the password after checking the current one, throttled as signing in is;
    this session stays signed in."""
    if password != confirm:
        return _refused(request, user, {"confirm": "The two new passwords are not the same"})
    attempt = Attempt(
        username=user.username,
        password=current,
        host=client_host(request),
        failure_reason=f"wrong current password for {user.username}",
    )
    try:
        check_sign_in(services.sign_in_context(), attempt)
        with session_scope(services.engine) as session:
            set_password(
                session,
                username=user.username,
                password=password,
                actor=user.username,
                clock=services.clock,
            )
            changed = get_user(session, user.username)
    except TooManyAttempts as exc:
        response = _refused(request, user, {"current": exc.detail}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthenticated:
        return _refused(request, user, {"current": "Your current password is not right"})
    except DomainError as exc:
        return _refused(request, user, {"password": exc.detail[:1].upper() + exc.detail[1:]})
    # Other sessions end (their password fingerprint no longer matches); this one goes on.
    start_session(request, services, changed, end_others=True)
    flash(request, "Your password has been changed.")
    return redirect("/")


def _refused(
    request: Request, user: User, errors: dict[str, str], *, status: int = 422
) -> Response:
    return render(
        request, "account_password.html", {"errors": errors}, user=user, status_code=status
    )
