"""Tables for people and service accounts, and their API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from records_service.sqltypes import UTCDateTime


class Role(StrEnum):
    """What a user may do; a user holds one or more roles."""

    STAFF = "staff"
    REVIEWER = "reviewer"
    RECORDS_MANAGER = "records_manager"
    AUDITOR = "auditor"
    ADMIN = "admin"


class User(SQLModel, table=True):
    """A person or service account."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    display_name: str = Field(default="", max_length=200)
    roles: str = Field(default="staff", max_length=200, description="Comma-separated roles.")
    password_hash: str | None = Field(default=None, max_length=500)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def role_set(self) -> frozenset[Role]:
        """The user's roles as enum members."""
        return frozenset(Role(r) for r in self.roles.split(",") if r)


class ApiToken(SQLModel, table=True):
    """An API token; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    public_id: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    secret_hash: str = Field(max_length=64)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class WebSession(SQLModel, table=True):
    """A browser sign-in. The signed cookie carries the session's id; only its SHA-256
    is stored. Signing out ends the row, so a copy of the cookie stops working too."""

    __tablename__ = "web_sessions"

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = Field(foreign_key="users.id", index=True)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class SignInThrottle(SQLModel, table=True):
    """Recent failed password checks for one user name or one client address.

    ``key`` is ``account:<name>`` or ``client:<address>``. A row exists only while
    its failures are remembered (see :mod:`records_service.auth.throttle`).
    """

    __tablename__ = "signin_throttle"

    key: str = Field(sa_column=Column(String(100), primary_key=True))
    failures: int = Field(default=0)
    last_failure_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class AuthFailureCount(SQLModel, table=True):
    """How many requests from one source failed for one reason in one interval.

    The first failure of an interval is audited at once; the rest are only counted
    here until the interval has closed, when one audit entry carries their number
    and the row goes (see :mod:`records_service.auth.failures`).
    """

    __tablename__ = "auth_failure_counts"

    source: str = Field(sa_column=Column(String(64), primary_key=True))
    reason: str = Field(sa_column=Column(String(64), primary_key=True))
    interval_start: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True, index=True))
    count: int = Field(default=1)
