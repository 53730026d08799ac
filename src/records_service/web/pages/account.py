"""The signed-in user's own account: changing their password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from records_service.api.deps import ServicesDep
from records_service.auth.service import check_password, record_auth_failure, set_password
from records_service.db import session_scope
from records_service.errors import DomainError, Unauthenticated
from records_service.web.deps import PageUser
from records_service.web.rendering import flash, redirect, render
from records_service.web.sessions import start_session

router = APIRouter()


@router.get("/account/password")
def password_form(request: Request, user: PageUser) -> Response:
    """The form to change one's own password."""
    return render(request, "account_password.html", {}, user=user)


@router.post("/account/password")
def change_password(
    request: Request,
    services: ServicesDep,
    user: PageUser,
    current: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Change the password after checking the current one; this session stays signed in."""
    errors: dict[str, str] = {}
    if password != confirm:
        errors["confirm"] = "The two new passwords are not the same"
    else:
        try:
            with session_scope(services.engine) as session:
                check_password(session, username=user.username, password=current)
                set_password(
                    session,
                    username=user.username,
                    password=password,
                    actor=user.username,
                    clock=services.clock,
                )
                changed = check_password(session, username=user.username, password=password)
        except Unauthenticated:
            with session_scope(services.engine) as session:
                record_auth_failure(
                    session,
                    reason=f"wrong current password for {user.username}",
                    method="password",
                    clock=services.clock,
                )
            errors["current"] = "Your current password is not right"
        except DomainError as exc:
            errors["password"] = exc.detail[:1].upper() + exc.detail[1:]
    if errors:
        return render(
            request, "account_password.html", {"errors": errors}, user=user, status_code=422
        )
    # Other sessions end (their password fingerprint no longer matches); this one goes on.
    start_session(request, services, changed, end_others=True)
    flash(request, "Your password has been changed.")
    return redirect("/")
