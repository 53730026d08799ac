"""Page parameters, the page envelope every list endpoint returns, and sort orders."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from records_service.bounds import PageNumber
from records_service.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class PageParams(BaseModel):
    """Which page of a listing to return (1-based)."""

    page: PageNumber = Field(1, description="Page number, from 1.")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page.")

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.page_size


class Page(BaseModel, Generic[T]):
    """One page of results with the total across all pages."""

    items: list[T]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class Sort:
    """Which column a listing is ordered by, and in which direction."""

    key: str
    descending: bool = False

    @property
    def text(self) -> str:
        """The query-parameter form: the key, with a leading ``-`` when descending."""
        return f"-{self.key}" if self.descending else self.key


def parse_sort(text: str | None, allowed: Collection[str], default: str) -> Sort:
    """``key`` or ``-key`` (descending) from a query parameter, one of ``allowed``.

    Blank means ``default``. Anything else is refused with the list of keys, so a
    listing is only ever ordered by a column chosen for it (and indexed for it).
    """
    wanted = (text or "").strip() or default
    key = wanted.removeprefix("-")
    if key not in allowed:
        choices = ", ".join(sorted(allowed))
        raise InvalidInput(
            f"cannot sort by {key[:40]!r}: sort by one of {choices} "
            "(a '-' before the name sorts in descending order)"
        )
    return Sort(key=key, descending=wanted.startswith("-"))
