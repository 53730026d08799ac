"""Request and response bodies of the user and token administration API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from records_service.auth.models import ApiToken, Role, User
from records_service.bounds import Identifier, Label


class UserCreate(BaseModel):
    """A new user; an API token is issued with it and shown once."""

    model_config = ConfigDict(extra="forbid")

    username: Identifier = Field(
        description="2-64 characters: lower-case letters, digits, '.', '_', '-'."
    )
    roles: list[Role] = Field(min_length=1, max_length=len(Role), description="One or more roles.")
    display_name: Label = ""
    token_label: Label = Field("", description="A note on the first token.")


class RolesChange(BaseModel):
    """Roles to give a user and roles to take away; a user keeps at least one."""

    model_config = ConfigDict(extra="forbid")

    add: list[Role] = Field([], max_length=len(Role), description="Roles to give.")
    remove: list[Role] = Field([], max_length=len(Role), description="Roles to take away.")


class UserPublic(BaseModel):
    """A user as administrators see it (never a password hash)."""

    username: str
    display_name: str
    roles: list[str]
    disabled: bool
    created_at: datetime
    active_tokens: int

    @classmethod
    def of(cls, user: User, active_tokens: int) -> UserPublic:
        """The public view of ``user``."""
        return cls(
            username=user.username,
            display_name=user.display_name,
            roles=[role for role in user.roles.split(",") if role],
            disabled=user.disabled,
            created_at=user.created_at,
            active_tokens=active_tokens,
        )


class TokenCreate(BaseModel):
    """A new API token for an existing user."""

    model_config = ConfigDict(extra="forbid")

    label: Label = Field("", description="What the token is for.")


class TokenPublic(BaseModel):
    """An API token's public facts; the secret is never stored."""

    id: str = Field(description="The token's public id (the part after `rs_`).")
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenPublic:
        """The public view of ``token``."""
        return cls(
            id=token.public_id,
            label=token.label,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )


class IssuedToken(BaseModel):
    """A token just issued: ``token`` is shown this once and cannot be read again."""

    username: str
    id: str
    token: str


class CreatedUser(BaseModel):
    """A user just created, with the first token (shown once)."""

    user: UserPublic
    token: IssuedToken
