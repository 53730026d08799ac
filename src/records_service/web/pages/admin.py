"""Administration: users (add, change roles, disable, set a password, release a sign-in
lockout) and their API tokens (issue, revoke).

Everything here needs the ``manage_users`` permission, as the CLI's ``users`` commands
do. A new token is shown once, on the page that answers the form, and never again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from records_service.auth import service as accounts
from records_service.auth.models import Role, User
from records_service.auth.throttle import ThrottleKey, lock_of, release
from records_service.bounds import FormText, Identifier
from records_service.db import session_scope
from records_service.errors import Conflict, DomainError, InvalidInput, NotFound
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.runtime.services import Services
from records_service.web.deps import SignedInAdministrator
from records_service.web.pages._forms import field_of
from records_service.web.rendering import flash, redirect, render
from records_service.web.sessions import end_open_sessions, open_sessions

router = APIRouter(prefix="/admin")

ROLE_HELP = {
    Role.STAFF: "Upload records, edit details, open contracts",
    Role.REVIEWER: "Read everything, including OFFICIAL-SENSITIVE records",
    Role.RECORDS_MANAGER: "Everything staff can do, plus retention, holds and disposal",
    Role.AUDITOR: "Read everything and the audit log",
    Role.ADMIN: "Everything, including users and tokens",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@router.get("/users")
def users(request: Request, session: ReadSessionDep, user: SignedInAdministrator) -> Response:
    """Every user with roles, state and number of active tokens."""
    counts = accounts.active_token_counts(session)
    context = {"users": accounts.list_users(session), "token_counts": counts}
    return render(request, "admin_users.html", context, user=user)


def _new_user_page(
    request: Request, user: User, form: dict[str, object], errors: dict[str, str]
) -> Response:
    context = {"form": form, "errors": errors, "roles": ROLE_HELP}
    status = 422 if errors else 200
    return render(request, "admin_user_new.html", context, user=user, status_code=status)


@router.get("/users/new")
def new_user_form(request: Request, user: SignedInAdministrator) -> Response:
    """The form to add a user."""
    # No role is ticked: a role chosen for the admin would be a role nobody chose.
    return _new_user_page(request, user, {"roles": []}, {})


@router.post("/users/new")
def new_user(
    request: Request,
    services: ServicesDep,
    user: SignedInAdministrator,
    username: Annotated[FormText, Form()] = "",
    display_name: Annotated[FormText, Form()] = "",
    roles: Annotated[list[Identifier] | None, Form()] = None,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Add the user, with a password when one is given."""
    name = username.strip().lower()
    form: dict[str, object] = {"username": name, "display_name": display_name, "roles": roles or []}
    try:
        with session_scope(services.engine) as session:
            accounts.add_user(
                session,
                username=name,
                roles=roles or [],
                display_name=display_name.strip(),
                actor=user.username,
                clock=services.clock,
            )
            if password:
                accounts.set_password(
                    session,
                    username=name,
                    password=password,
                    actor=user.username,
                    clock=services.clock,
                )
    except DomainError as exc:
        return _new_user_page(
            request, user, form, {field_of(exc, "username"): _sentence(exc.detail)}
        )
    flash(request, f"User {name} added.")
    return redirect(f"/admin/users/{name}")


def _user_page(
    request: Request,
    session: Session,
    services: Services,
    admin: User,
    username: Identifier,
    errors: dict[str, str] | None = None,
    new_token: str | None = None,
) -> Response:
    person = accounts.get_user(session, username)
    tokens = accounts.list_tokens(session, person.username)
    failures, lock = lock_of(
        session,
        ThrottleKey.account(person.username),
        services.sign_in_context().policy,
        services.clock(),
    )
    context = {
        "person": person,
        "tokens": tokens,
        "open_sessions": len(open_sessions(session, services, person)),
        "signin_failures": failures,
        "signin_lock": lock,
        "errors": errors or {},
        "new_token": new_token,
        "roles": ROLE_HELP,
    }
    status = 422 if errors else 200
    return render(request, "admin_user.html", context, user=admin, status_code=status)


@router.get("/users/{username}")
def user_page(
    username: Identifier,
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInAdministrator,
) -> Response:
    """One user: roles, state, tokens, and the forms to change them."""
    return _user_page(request, session, services, user, username)


@router.post("/users/{username}/password")
def user_password(
    username: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInAdministrator,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Set the user's web password (their current sessions end)."""
    try:
        with session_scope(services.engine) as session:
            accounts.set_password(
                session,
                username=username,
                password=password,
                actor=user.username,
                clock=services.clock,
            )
    except DomainError as exc:
        if exc.status == 404:
            raise
        errors = {"password": _sentence(exc.detail)}
        with session_scope(services.engine) as session:
            return _user_page(request, session, services, user, username, errors)
    flash(request, f"Password set for {username}.")
    return redirect(f"/admin/users/{username}")


@router.post("/users/{username}/roles")
def user_roles(
    username: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInAdministrator,
    roles: Annotated[list[Identifier] | None, Form()] = None,
) -> Response:
    """Give the user exactly the ticked roles (audited); none ticked is refused."""
    wanted = set(roles or [])
    try:
        with session_scope(services.engine) as session:
            held = {role.value for role in accounts.get_user(session, username).role_set}
            accounts.change_roles(
                session,
                username=username,
                add=sorted(wanted - held),
                remove=sorted(held - wanted),
                actor=user.username,
                clock=services.clock,
            )
    except (Conflict, InvalidInput) as exc:
        errors = {"roles": _sentence(exc.detail)}
        with session_scope(services.engine) as session:
            return _user_page(request, session, services, user, username, errors)
    flash(request, f"Roles of {username} saved.")
    return redirect(f"/admin/users/{username}")


@router.post("/users/{username}/tokens")
def user_token(
    username: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInAdministrator,
    label: Annotated[FormText, Form(max_length=200)] = "",
) -> Response:
    """Issue an API token and show it this once."""
    with session_scope(services.engine) as session:
        token = accounts.issue_token(
            session,
            username=username,
            label=label.strip(),
            actor=user.username,
            clock=services.clock,
        )
    with session_scope(services.engine) as session:
        return _user_page(request, session, services, user, username, new_token=token)


@router.post("/users/{username}/tokens/{token_id}/revoke")
def user_token_revoke(
    username: Identifier,
    token_id: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInAdministrator,
) -> Response:
    """Revoke one of the user's API tokens: it stops working at once."""
    with session_scope(services.engine) as session:
        if token_id not in {t.public_id for t in accounts.list_tokens(session, username)}:
            raise NotFound(f"{username} has no API token {token_id}")
        accounts.revoke_token(session, token_id=token_id, actor=user.username, clock=services.clock)
    flash(request, f"Token {token_id} revoked.")
    return redirect(f"/admin/users/{username}")


@router.post("/users/{username}/sessions/end")
def user_sessions_end(
    username: Identifier, request: Request, services: ServicesDep, user: SignedInAdministrator
) -> Response:
    """End every web session of the user at once; each end is audited as a sign-out."""
    with session_scope(services.engine) as session:
        person = accounts.get_user(session, username)
        ended = end_open_sessions(session, services, person, actor=user.username)
    noun = "session" if ended == 1 else "sessions"
    flash(request, f"{ended} web {noun} of {username} ended.")
    return redirect(f"/admin/users/{username}")


@router.post("/users/{username}/unlock")
def user_unlock(
    username: Identifier, request: Request, services: ServicesDep, user: SignedInAdministrator
) -> Response:
    """Release the user name's sign-in lockout (and forget its failures); audited."""
    with session_scope(services.engine) as session:
        person = accounts.get_user(session, username)
        released = release(
            session,
            ThrottleKey.account(person.username),
            policy=services.sign_in_context().policy,
            actor=user.username,
            clock=services.clock,
        )
    if released:
        flash(request, f"Sign-in lock of {username} released.")
    else:
        flash(request, f"{username} had no failed sign-ins to forget.")
    return redirect(f"/admin/users/{username}")


@router.post("/users/{username}/disable")
def user_disable(
    username: Identifier, request: Request, services: ServicesDep, user: SignedInAdministrator
) -> Response:
    """Disable the user: tokens, password and web sessions stop working at once.

    The service refuses to disable yourself or the last active admin; the page says why.
    """
    try:
        with session_scope(services.engine) as session:
            accounts.disable_user(
                session, username=username, actor=user.username, clock=services.clock
            )
    except Conflict as exc:
        with session_scope(services.engine) as session:
            errors = {"disable": _sentence(exc.detail)}
            return _user_page(request, session, services, user, username, errors)
    flash(request, f"User {username} disabled.")
    return redirect(f"/admin/users/{username}")
