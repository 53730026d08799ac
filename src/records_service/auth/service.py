"""User and token operations shared by the CLI, the API and the web pages."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from records_service.audit.actions import (
    AuditAction,
    AuthFailurePayload,
    RolesPayload,
    TokenPayload,
    UserPayload,
)
from records_service.audit.log import ANONYMOUS, record_event
from records_service.auth.models import ApiToken, Role, User
from records_service.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from records_service.auth.sessions import end_user_sessions
from records_service.auth.tokens import mint_token, secret_matches, split_token
from records_service.clock import Clock
from records_service.errors import Conflict, InvalidInput, NotFound
from records_service.pagination import PageParams

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
SYSTEM_ACTOR = "system"

_USERS = User.__table__  # type: ignore[attr-defined]
_TOKENS = ApiToken.__table__  # type: ignore[attr-defined]
_TOKEN_AND_USER = (
    sa_select(_TOKENS.c.secret_hash, _TOKENS.c.revoked_at, *_USERS.c)
    .join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
    .where(_TOKENS.c.public_id == bindparam("public_id"))
)


def parse_roles(names: Iterable[str]) -> list[Role]:
    """Validate role names, keeping their order and dropping repeats."""
    roles: list[Role] = []
    for name in names:
        try:
            role = Role(name)
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {name!r}; choose from {allowed}") from None
        if role not in roles:
            roles.append(role)
    if not roles:
        raise InvalidInput("a user needs at least one role")
    return roles


def add_user(
    session: Session,
    *,
    username: str,
    roles: Iterable[str],
    display_name: str = "",
    actor: str = SYSTEM_ACTOR,
    clock: Clock,
) -> User:
    """Create a user; raises ``Conflict`` if the name is taken."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    role_list = parse_roles(roles)
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        roles=",".join(r.value for r in role_list),
        created_at=clock(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"user {username!r} already exists") from None
    payload = UserPayload(username=username, roles=[r.value for r in role_list])
    record_event(
        session,
        actor=actor,
        action=AuditAction.USER_CREATE,
        subject=f"user:{username}",
        payload=payload,
        clock=clock,
    )
    return user


def get_user(session: Session, username: str) -> User:
    """The user called ``username``; raises ``NotFound``."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.exec(select(User).order_by(User.username)))


def page_of_users(session: Session, page: PageParams) -> tuple[list[User], int]:
    """One page of users, by name, and how many there are."""
    total = session.exec(select(func.count()).select_from(User)).one()
    statement = select(User).order_by(User.username).offset(page.offset).limit(page.page_size)
    return list(session.exec(statement)), int(total)


def active_token_counts(
    session: Session, user_ids: Collection[int] | None = None
) -> dict[int, int]:
    """How many unrevoked API tokens each user id holds (users with none are absent),
    for every user or only for ``user_ids``."""
    statement = select(ApiToken.user_id, func.count()).where(col(ApiToken.revoked_at).is_(None))
    if user_ids is not None:
        statement = statement.where(col(ApiToken.user_id).in_(user_ids))
    return dict(session.exec(statement.group_by(col(ApiToken.user_id))).all())


def disable_user(session: Session, *, username: str, actor: str, clock: Clock) -> User:
    """Disable a user: their tokens, password and web sessions stop working.

    Their open web sessions end, each recorded as a sign-out by ``actor``.
    Raises ``Conflict`` when ``actor`` is that user (nobody locks themselves out)
    or when it would leave no active admin (nobody could manage users any more).
    """
    if username == actor:
        raise Conflict(f"you cannot disable your own account ({username!r}); ask another admin")
    user = get_user(session, username)
    if not user.disabled and Role.ADMIN in user.role_set:
        _keep_an_admin(session, user)
    user.disabled = True
    session.add(user)
    record_event(
        session,
        actor=actor,
        action=AuditAction.USER_DISABLE,
        subject=f"user:{username}",
        payload=UserPayload(username=username),
        clock=clock,
    )
    end_user_sessions(session, user, actor=actor, clock=clock)
    return user


def enable_user(session: Session, *, username: str, actor: str, clock: Clock) -> User:
    """Let a disabled user in again (their password and tokens, if any, work again).

    For an account a recovery from the store made disabled, once an administrator has
    checked who the person is. Raises ``Conflict`` if the user is not disabled.
    """
    user = get_user(session, username)
    if not user.disabled:
        raise Conflict(f"user {username!r} is not disabled")
    user.disabled = False
    session.add(user)
    record_event(
        session,
        actor=actor,
        action=AuditAction.USER_ENABLE,
        subject=f"user:{username}",
        payload=UserPayload(username=username),
        clock=clock,
    )
    return user


def _role_names(names: Iterable[str]) -> list[Role]:
    """Role names as roles; an empty list is allowed (nothing to add or remove)."""
    names = list(names)
    return parse_roles(names) if names else []


def change_roles(
    session: Session,
    *,
    username: str,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    actor: str,
    clock: Clock,
) -> User:
    """Give ``username`` the roles in ``add`` and take away those in ``remove``; audited
    as ``user.roles`` when anything changes (a change to nothing audits nothing).

    Raises ``InvalidInput`` for an unknown role or one both added and removed, and
    ``Conflict`` when the user would be left with no role, or when it would leave no
    active admin (as disabling does).
    """
    adding, removing = _role_names(add), _role_names(remove)
    if both := [r.value for r in adding if r in removing]:
        raise InvalidInput(f"role {both[0]!r} is both added and removed; choose one")
    user = get_user(session, username)
    before = user.role_set
    after = (before | set(adding)) - set(removing)
    if not after:
        raise Conflict(
            f"{username!r} would be left with no role; add the new role before removing "
            "the last one, or disable the user instead"
        )
    if Role.ADMIN in before - after and not user.disabled:
        _keep_an_admin(session, user)
    if after == before:
        return user
    user.roles = ",".join(r.value for r in Role if r in after)
    session.add(user)
    payload = RolesPayload(
        username=username,
        added=[r.value for r in Role if r in after - before],
        removed=[r.value for r in Role if r in before - after],
        roles=[r.value for r in Role if r in after],
    )
    record_event(
        session,
        actor=actor,
        action=AuditAction.USER_ROLES,
        subject=f"user:{username}",
        payload=payload,
        clock=clock,
    )
    return user


def _keep_an_admin(session: Session, leaving: User) -> None:
    """Refuse unless an active admin other than ``leaving`` remains.

    The active admins' rows are locked first (on PostgreSQL), so two admins
    disabling each other at once cannot both succeed; SQLite writers already
    run one at a time.
    """
    candidates = session.exec(
        select(User)
        .where(col(User.disabled).is_(False), col(User.roles).contains(Role.ADMIN.value))
        .with_for_update()
    )
    others = [u for u in candidates if u.id != leaving.id and Role.ADMIN in u.role_set]
    if not others:
        raise Conflict(
            f"{leaving.username!r} is the last active admin; add another admin before "
            "disabling this one or removing its admin role, or nobody could manage users"
        )


def issue_token(
    session: Session, *, username: str, label: str = "", actor: str = SYSTEM_ACTOR, clock: Clock
) -> str:
    """Create an API token for ``username`` and return its plaintext (shown once).

    Refused for a disabled user, whose tokens would never work.
    """
    user = get_user(session, username)
    if user.disabled:
        raise Conflict(f"user {username!r} is disabled; a token for them would not work")
    token = mint_token()
    assert user.id is not None
    session.add(
        ApiToken(
            user_id=user.id,
            public_id=token.public_id,
            secret_hash=token.secret_hash,
            label=label,
            created_at=clock(),
        )
    )
    record_event(
        session,
        actor=actor,
        action=AuditAction.TOKEN_ISSUE,
        subject=f"user:{username}",
        payload=TokenPayload(username=username, token_id=token.public_id),
        clock=clock,
    )
    return token.plaintext


def list_tokens(session: Session, username: str) -> list[ApiToken]:
    """A user's tokens, oldest first, revoked ones included."""
    user = get_user(session, username)
    statement = select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id))
    return list(session.exec(statement))


def revoke_token(session: Session, *, token_id: str, actor: str, clock: Clock) -> ApiToken:
    """Revoke the token whose public id is ``token_id``: it stops working at once."""
    token = session.exec(select(ApiToken).where(ApiToken.public_id == token_id)).first()
    if token is None:
        raise NotFound(f"no API token {token_id!r}")
    if token.revoked_at is not None:
        raise Conflict(f"API token {token_id!r} was already revoked")
    user = session.get(User, token.user_id)
    assert user is not None
    token.revoked_at = clock()
    session.add(token)
    record_event(
        session,
        actor=actor,
        action=AuditAction.TOKEN_REVOKE,
        subject=f"user:{user.username}",
        payload=TokenPayload(username=user.username, token_id=token_id),
        clock=clock,
    )
    return token


def user_for_token(session: Session, plaintext: str) -> User | None:
    """The active user a bearer token belongs to, or ``None``.

    The returned user is a plain object, not attached to ``session``.
    """
    parts = split_token(plaintext)
    if parts is None:
        return None
    public_id, secret = parts
    # This runs on every API request: one Core statement for the token and its user,
    # which costs about a third of the same query through the ORM.
    found = session.connection().execute(_TOKEN_AND_USER, {"public_id": public_id}).first()
    if found is None:
        return None
    row = found._mapping
    if row["revoked_at"] is not None or not secret_matches(secret, row["secret_hash"]):
        return None
    if row[_USERS.c.disabled]:
        return None
    return User(**{column.name: row[column] for column in _USERS.c})


def set_password(
    session: Session, *, username: str, password: str, actor: str, clock: Clock
) -> None:
    """Set a user's web login password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    session.add(user)
    record_event(
        session,
        actor=actor,
        action=AuditAction.USER_PASSWORD,
        subject=f"user:{username}",
        payload=UserPayload(username=username),
        clock=clock,
    )


def password_user(session: Session, username: str) -> User | None:
    """The active user called ``username`` who has a password, or ``None``.

    Passwords are checked through ``records_service.auth.signin``, which throttles
    the checks and runs Argon2 for every name.
    """
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.disabled or not user.password_hash:
        return None
    return user


def record_auth_failure(
    session: Session, *, reason: str, method: str, source: str, clock: Clock
) -> None:
    """Log one failed authentication attempt from ``source`` (in the caller's transaction)."""
    record_event(
        session,
        actor=ANONYMOUS,
        action=AuditAction.AUTH_FAILURE,
        subject="auth",
        payload=AuthFailurePayload(reason=reason, method=method, source=source),
        clock=clock,
    )
