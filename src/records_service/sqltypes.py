"""Column types shared by every domain's tables.

``UTCDateTime`` keeps timestamps timezone-aware in UTC on both SQLite (which
has no timezone type) and PostgreSQL, so comparisons never mix naive and aware
values. ``PenceType`` holds money as integer pence and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class PenceType(TypeDecorator[int]):
    """An amount of money in integer pence (a 64-bit column on every database).

    Refuses anything but an ``int`` on the way in, so a float or ``Decimal`` of
    pounds can never be stored by mistake and rounded silently.
    """

    impl = BigInteger()
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"money must be integer pence, not {type(value).__name__}")
        return value
