"""User and API-token administration over JSON, for the ``admin`` role.

The same operations as the ``records-service users`` commands and the web admin
pages, through the same service functions, so each one is audited the same way. A
token's secret is in the response that issues it and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlmodel import Session

from records_service.api.deps import Paging, TokenAdministrator
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.auth.models import User
from records_service.auth.schemas import (
    CreatedUser,
    IssuedToken,
    RolesChange,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserPublic,
)
from records_service.auth.service import (
    active_token_counts,
    add_user,
    change_roles,
    disable_user,
    get_user,
    issue_token,
    list_tokens,
    page_of_users,
    revoke_token,
)
from records_service.auth.tokens import split_token
from records_service.bounds import Identifier
from records_service.clock import Clock
from records_service.pagination import Page
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep

router = APIRouter(
    prefix="/api", tags=["users"], responses={**AUTHENTICATED, **problem_responses(403)}
)
FOUND = problem_responses(404)
CHANGE = problem_responses(404, 409)


def _public(session: Session, user: User) -> UserPublic:
    assert user.id is not None
    return UserPublic.of(user, active_token_counts(session, [user.id]).get(user.id, 0))


def _issue(
    session: Session, username: Identifier, label: str, actor: str, clock: Clock
) -> IssuedToken:
    plaintext = issue_token(session, username=username, label=label, actor=actor, clock=clock)
    parts = split_token(plaintext)
    assert parts is not None
    return IssuedToken(username=username, id=parts[0], token=plaintext)


@router.get("/users", response_model=Page[UserPublic])
def list_(session: ReadSessionDep, _admin: TokenAdministrator, paging: Paging) -> Page[UserPublic]:
    """Every user by name, with roles, state and the number of active tokens."""
    users, total = page_of_users(session, paging)
    counts = active_token_counts(session, [user.id for user in users if user.id is not None])
    items = [UserPublic.of(user, counts.get(user.id or 0, 0)) for user in users]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedUser,
    responses=problem_responses(400, 409),
)
def create(
    data: UserCreate,
    session: SessionDep,
    admin: TokenAdministrator,
    services: ServicesDep,
    response: Response,
) -> CreatedUser:
    """Add a user and issue their first API token, shown in this response only."""
    user = add_user(
        session,
        username=data.username,
        roles=[role.value for role in data.roles],
        display_name=data.display_name,
        actor=admin.username,
        clock=services.clock,
    )
    token = _issue(session, data.username, data.token_label, admin.username, services.clock)
    response.headers["Location"] = f"/api/users/{data.username}"
    return CreatedUser(user=_public(session, user), token=token)


@router.get("/users/{username}", response_model=UserPublic, responses=FOUND)
def read(username: Identifier, session: ReadSessionDep, _admin: TokenAdministrator) -> UserPublic:
    """One user."""
    return _public(session, get_user(session, username))


@router.post("/users/{username}/disable", response_model=UserPublic, responses=CHANGE)
def disable(
    username: Identifier, session: SessionDep, admin: TokenAdministrator, services: ServicesDep
) -> UserPublic:
    """Disable a user: their tokens and password stop working at once."""
    user = disable_user(session, username=username, actor=admin.username, clock=services.clock)
    return _public(session, user)


@router.post(
    "/users/{username}/roles",
    response_model=UserPublic,
    responses=problem_responses(400, 404, 409),
)
def roles(
    username: Identifier,
    data: RolesChange,
    session: SessionDep,
    admin: TokenAdministrator,
    services: ServicesDep,
) -> UserPublic:
    """Give and take away roles (audited as ``user.roles``). Leaving the user with no
    role, or leaving no active admin, is a 409."""
    user = change_roles(
        session,
        username=username,
        add=[role.value for role in data.add],
        remove=[role.value for role in data.remove],
        actor=admin.username,
        clock=services.clock,
    )
    return _public(session, user)


@router.get("/users/{username}/tokens", response_model=list[TokenPublic], responses=FOUND)
def tokens(
    username: Identifier, session: ReadSessionDep, _admin: TokenAdministrator
) -> list[TokenPublic]:
    """A user's API tokens, oldest first, revoked ones included (never their secrets)."""
    return [TokenPublic.of(token) for token in list_tokens(session, username)]


@router.post(
    "/users/{username}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedToken,
    responses=problem_responses(400, 404, 409),
)
def issue(
    username: Identifier,
    data: TokenCreate,
    session: SessionDep,
    admin: TokenAdministrator,
    services: ServicesDep,
) -> IssuedToken:
    """Issue another API token; the secret is in this response only."""
    return _issue(session, username, data.label, admin.username, services.clock)


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic, responses=CHANGE)
def revoke(
    token_id: Identifier, session: SessionDep, admin: TokenAdministrator, services: ServicesDep
) -> TokenPublic:
    """Revoke a token by its public id: it stops working at once. Revoking twice is a 409."""
    token = revoke_token(session, token_id=token_id, actor=admin.username, clock=services.clock)
    return TokenPublic.of(token)
