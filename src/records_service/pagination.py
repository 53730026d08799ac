"""Page parameters and the page envelope every list endpoint returns."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from records_service.bounds import PageNumber

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
