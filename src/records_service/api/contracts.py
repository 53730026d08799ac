"""Contract routes: create, list, read and update case files, and a contract's timeline."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from records_service.api.deps import Paging, TokenContractManager, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import Identifier, Label, LongName, SearchText
from records_service.contracts.models import ContractStatus
from records_service.contracts.schemas import ContractCreate, ContractPublic, ContractUpdate
from records_service.contracts.service import (
    create_contract,
    get_contract,
    list_contracts,
    update_contract,
)
from records_service.pagination import Page
from records_service.records.timeline import ContractTimeline, contract_timeline
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep

router = APIRouter(prefix="/api/contracts", tags=["contracts"], responses=AUTHENTICATED)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractPublic,
    responses=problem_responses(400, 403, 409),
)
def create(
    data: ContractCreate,
    session: SessionDep,
    user: TokenContractManager,
    services: ServicesDep,
    response: Response,
) -> ContractPublic:
    """Open a new contract (case file). The reference must be unique."""
    contract = create_contract(session, data=data, actor=user, clock=services.clock)
    response.headers["Location"] = f"/api/contracts/{contract.reference}"
    return ContractPublic.model_validate(contract)


@router.get("", response_model=Page[ContractPublic])
def list_(
    session: ReadSessionDep,
    user: TokenUser,
    paging: Paging,
    status: ContractStatus | None = None,
    provider: LongName | None = None,
    funding_stream: Label | None = None,
    q: SearchText | None = None,
) -> Page[ContractPublic]:
    """List contracts, filtered and paginated; ``q`` matches reference or title."""
    rows, total = list_contracts(
        session,
        page=paging,
        status=status.value if status else None,
        provider=provider,
        funding_stream=funding_stream,
        q=q,
    )
    return Page(
        items=[ContractPublic.model_validate(c) for c in rows],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get("/{reference}", response_model=ContractPublic, responses=problem_responses(404))
def read(reference: Identifier, session: ReadSessionDep, user: TokenUser) -> ContractPublic:
    """One contract by its reference."""
    return ContractPublic.model_validate(get_contract(session, reference))


@router.patch(
    "/{reference}", response_model=ContractPublic, responses=problem_responses(400, 403, 404, 409)
)
def update(
    reference: Identifier,
    data: ContractUpdate,
    session: SessionDep,
    user: TokenContractManager,
    services: ServicesDep,
) -> ContractPublic:
    """Change a contract's status, dates, provider, funding stream, value or deed flag."""
    contract = update_contract(
        session, reference=reference, data=data, actor=user, clock=services.clock
    )
    return ContractPublic.model_validate(contract)


@router.get(
    "/{reference}/timeline", response_model=ContractTimeline, responses=problem_responses(404)
)
def timeline(reference: Identifier, session: ReadSessionDep, user: TokenUser) -> ContractTimeline:
    """Every record and version of the contract, by record date then capture time.

    Each entry says who captured the version and when. Records the caller may
    not see are absent. To search inside the contract's documents, use
    ``GET /api/search?contract=REF``.
    """
    return contract_timeline(session, reference=reference, user=user)
