"""Audit routes: entries, the latest checkpoint, proofs and the public key.

Reading the log needs the ``read_audit`` permission (auditor, records manager,
admin), except the public key, which is public: it is meant to be published, verifies
checkpoints without revealing anything, and outside auditors need it before they
have any account. They should still compare it with the key published out of
band, since a compromised server could serve another.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Session

from records_service.api.deps import Paging, TokenAuditReader
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.audit.actions import AuditAction
from records_service.audit.keys import current_verifier_key
from records_service.audit.schemas import (
    AuditEntryPublic,
    CheckpointPublic,
    ConsistencyProofPublic,
    InclusionProofPublic,
    PublicKeyPublic,
)
from records_service.audit.service import (
    EntryFilters,
    consistency,
    inclusion,
    latest_checkpoint,
    list_entries,
)
from records_service.bounds import DbInt, Identifier, Label, SafeDateTime
from records_service.pagination import Page, PageParams
from records_service.runtime.requests import ReadSessionDep, ServicesDep

router = APIRouter()
AUDIT_READ = {**AUTHENTICATED, **problem_responses(403)}


@router.get(
    "/api/audit/entries",
    response_model=Page[AuditEntryPublic],
    tags=["audit"],
    responses=AUDIT_READ,
)
def entries(
    session: ReadSessionDep,
    _user: TokenAuditReader,
    paging: Paging,
    subject: Label | None = None,
    actor: Identifier | None = None,
    action: AuditAction | None = None,
    since: Annotated[
        SafeDateTime | None, Query(alias="from", description="Entries at or after this time.")
    ] = None,
    until: Annotated[
        SafeDateTime | None, Query(alias="to", description="Entries before this time.")
    ] = None,
) -> Page[AuditEntryPublic]:
    """List audit entries in log order, filtered and paginated."""
    filters = EntryFilters(subject=subject, actor=actor, action=action, since=since, until=until)
    return entries_page(session, filters, paging)


def entries_page(
    session: Session, filters: EntryFilters, paging: PageParams
) -> Page[AuditEntryPublic]:
    """One page of the entries ``filters`` match, as the API shows them (also a
    record's history, in :mod:`records_service.api.records`)."""
    views, total = list_entries(session, filters=filters, page=paging)
    return Page(
        items=[AuditEntryPublic.of(v) for v in views],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get(
    "/api/audit/checkpoint",
    response_model=CheckpointPublic,
    tags=["audit"],
    responses={**AUDIT_READ, **problem_responses(404)},
)
def checkpoint(session: ReadSessionDep, _user: TokenAuditReader) -> CheckpointPublic:
    """The latest signed checkpoint (404 until the first one is signed)."""
    row, parsed = latest_checkpoint(session)
    return CheckpointPublic.of(row, parsed)


@router.get(
    "/api/audit/entries/{index}/proof",
    response_model=InclusionProofPublic,
    tags=["audit"],
    responses={**AUDIT_READ, **problem_responses(404)},
)
def proof(
    index: Annotated[DbInt, Path(ge=0)],
    session: ReadSessionDep,
    _user: TokenAuditReader,
    tree_size: Annotated[
        DbInt | None,
        Query(ge=0, description="Tree size to prove against; default the whole log."),
    ] = None,
) -> InclusionProofPublic:
    """Inclusion proof of one entry; check it against a signed checkpoint's root."""
    return InclusionProofPublic.of(inclusion(session, index=index, tree_size=tree_size))


@router.get(
    "/api/audit/consistency",
    response_model=ConsistencyProofPublic,
    tags=["audit"],
    responses=AUDIT_READ,
)
def consistency_(
    session: ReadSessionDep,
    _user: TokenAuditReader,
    first: Annotated[DbInt, Query(ge=0, description="The earlier tree size.")],
    second: Annotated[DbInt, Query(ge=0, description="The later tree size.")],
) -> ConsistencyProofPublic:
    """Consistency proof that the log of ``first`` entries is a prefix of ``second``."""
    return ConsistencyProofPublic.of(consistency(session, first=first, second=second))


@router.get(
    "/api/audit/public-key",
    response_model=PublicKeyPublic,
    tags=["audit"],
    responses=problem_responses(503),
)
def public_key(services: ServicesDep) -> PublicKeyPublic:
    """The log's verifier keys (no authentication needed)."""
    settings = services.settings
    return PublicKeyPublic(
        key=current_verifier_key(settings),
        previous_keys=list(settings.audit.previous_public_keys),
        origin=settings.audit.origin,
    )
