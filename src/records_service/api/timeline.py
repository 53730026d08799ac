"""``GET /api/contracts/{reference}/timeline``: a contract's history in date order."""

from __future__ import annotations

from fastapi import APIRouter

from records_service.api.deps import TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import Identifier
from records_service.contracts.timeline import ContractTimeline, contract_timeline
from records_service.runtime.requests import ReadSessionDep

router = APIRouter(prefix="/api/contracts", tags=["contracts"], responses=AUTHENTICATED)


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
