"""``GET /api/search``: full-text search over every version of every record."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from records_service.api.deps import TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import Identifier, Identifiers, PageNumber, SafeDate, SearchText
from records_service.indexing.base import SearchQuery
from records_service.pagination import MAX_PAGE_SIZE
from records_service.runtime.requests import IndexDep, ServicesDep
from records_service.search.schemas import SearchResponse
from records_service.search.service import search_records

router = APIRouter(prefix="/api/search", tags=["search"], responses=AUTHENTICATED)

QUERY_HELP = (
    'Whoosh query syntax: words (AND by default), AND/OR/NOT, "phrases", wild*cards, '
    "field:value (title, text, provider, originator, type, contract, tag, classification, "
    "captured_by, date, captured, version, year, current). Empty matches everything."
)


@router.get(
    "",
    response_model=SearchResponse,
    responses=problem_responses(400),
)
def search(
    services: ServicesDep,
    index: IndexDep,
    user: TokenUser,
    q: Annotated[SearchText, Query(description=QUERY_HELP)] = "",
    contract: Annotated[Identifier | None, Query(description="One contract reference.")] = None,
    record_type: Annotated[
        Identifiers | None, Query(description="Record type; repeat to allow several.")
    ] = None,
    tag: Annotated[Identifiers | None, Query(description="Tag; repeat to require all.")] = None,
    date_from: Annotated[SafeDate | None, Query(description="Earliest record date.")] = None,
    date_to: Annotated[SafeDate | None, Query(description="Latest record date.")] = None,
    classification: Annotated[
        Identifier | None, Query(description="OFFICIAL or OFFICIAL-SENSITIVE.")
    ] = None,
    all_versions: Annotated[
        bool, Query(description="Search every version, not just current ones.")
    ] = False,
    sort: Annotated[
        Literal["relevance", "date"], Query(description="relevance, or date (newest first).")
    ] = "relevance",
    page: Annotated[PageNumber, Query(description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Hits per page, 1 to 200.")
    ] = 20,
) -> SearchResponse:
    """Search record versions the caller may see; each search is recorded in the audit log.

    Hidden records (OFFICIAL-SENSITIVE ones the caller may not see) never
    appear in hits, the total, facets or snippets.
    """
    query = SearchQuery(
        text=q,
        contract_ref=contract,
        record_types=tuple(record_type or ()),
        tags=tuple(tag or ()),
        date_from=date_from,
        date_to=date_to,
        classification=classification,
        all_versions=all_versions,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    result = search_records(
        engine=services.engine, index=index, query=query, actor=user, clock=services.clock
    )
    return SearchResponse.of(result)
