"""The API's view of a search result: hits, total, facets and paging fields."""

from __future__ import annotations

import math
from datetime import date

from pydantic import BaseModel, Field

from records_service.indexing.base import SearchHit, SearchResult


class SearchHitPublic(BaseModel):
    """One matching record version."""

    record_id: str
    version: int
    is_current: bool
    title: str
    contract: str | None
    record_type: str
    record_date: date
    score: float = Field(description="Relevance (BM25F); 0 when sorted by date.")
    snippet: str = Field(
        description="HTML: matches in <mark>, everything else escaped, safe to insert as is."
    )

    @classmethod
    def of(cls, hit: SearchHit) -> SearchHitPublic:
        """The public view of an index hit."""
        return cls(
            record_id=hit.record_id,
            version=hit.version,
            is_current=hit.is_current,
            title=hit.title,
            contract=hit.contract_ref,
            record_type=hit.record_type,
            record_date=hit.record_date,
            score=hit.score,
            snippet=hit.snippet,
        )


class SearchResponse(BaseModel):
    """One page of hits with the total and facet counts over every page."""

    hits: list[SearchHitPublic]
    total: int
    facets: dict[str, dict[str, int]] = Field(
        description="Counts by record_type, contract and year over the whole result."
    )
    page: int
    page_size: int
    pages: int

    @classmethod
    def of(cls, result: SearchResult) -> SearchResponse:
        """The public view of an index result."""
        return cls(
            hits=[SearchHitPublic.of(hit) for hit in result.hits],
            total=result.total,
            facets=result.facets,
            page=result.page,
            page_size=result.page_size,
            pages=math.ceil(result.total / result.page_size) if result.page_size else 0,
        )
