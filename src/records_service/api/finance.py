"""Money routes on a contract: its summary and award, variations, the payment schedule,
payments (and linking one to its invoice), reported spend and recoveries.

Reading needs only a token; recording needs ``manage_contracts`` (staff, records
managers, admins). Every amount is integer pence; every entry is audited.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from records_service.api.deps import Paging, TokenContractManager, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.bounds import DbId, Identifier, SafeDate
from records_service.contracts.service import get_contract
from records_service.finance.models import Instalment, Payment, Recovery, SpendReport, Variation
from records_service.finance.schemas import (
    AwardIn,
    AwardPublic,
    InstalmentIn,
    InstalmentPublic,
    InvoiceLink,
    MoneySummary,
    PaymentIn,
    PaymentPublic,
    RecoveryIn,
    RecoveryPublic,
    SpendIn,
    SpendPublic,
    VariationIn,
    VariationPublic,
)
from records_service.finance.service import (
    add_instalment,
    add_payment,
    add_recovery,
    add_spend,
    add_variation,
    get_award,
    link_invoice,
    list_entries,
    money_summary,
    set_award,
    spend_public,
)
from records_service.pagination import Page
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep

router = APIRouter(prefix="/api/contracts", tags=["money"], responses=AUTHENTICATED)
READ = problem_responses(404)
WRITE = problem_responses(400, 403, 404, 409)
AsAt = Annotated[SafeDate | None, Query(description="The day to total to; default today.")]


class ContractMoney(BaseModel):
    """A contract's money as at a day, and how it was awarded."""

    contract: str
    summary: MoneySummary
    award: AwardPublic | None


@router.get("/{reference}/money", response_model=ContractMoney, responses=READ)
def money(
    reference: Identifier,
    session: ReadSessionDep,
    services: ServicesDep,
    user: TokenUser,
    as_at: AsAt = None,
) -> ContractMoney:
    """Award, variations, scheduled, paid, reported spent and recovered, in pence."""
    contract = get_contract(session, reference)
    day: date = as_at or services.clock().date()
    return ContractMoney(
        contract=contract.reference,
        summary=money_summary(session, contract, day),
        award=get_award(session, contract),
    )


@router.put("/{reference}/award", response_model=AwardPublic, responses=WRITE)
def award(
    reference: Identifier,
    data: AwardIn,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> AwardPublic:
    """Record or change how the contract or grant was awarded (audited field by field)."""
    return set_award(session, reference=reference, data=data, actor=user, clock=services.clock)


@router.post(
    "/{reference}/variations",
    status_code=status.HTTP_201_CREATED,
    response_model=VariationPublic,
    responses=WRITE,
)
def vary(
    reference: Identifier,
    data: VariationIn,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> VariationPublic:
    """Record a decision that changed the value, linked to its decision or variation record."""
    row = add_variation(session, reference=reference, data=data, actor=user, clock=services.clock)
    return VariationPublic.model_validate(row)


@router.get("/{reference}/variations", response_model=Page[VariationPublic], responses=READ)
def variations(
    reference: Identifier, session: ReadSessionDep, user: TokenUser, paging: Paging
) -> Page[VariationPublic]:
    """The contract's variations, by the day each was decided."""
    rows, total = list_entries(session, Variation, get_contract(session, reference), paging)
    items = [VariationPublic.model_validate(row) for row in rows]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.post(
    "/{reference}/instalments",
    status_code=status.HTTP_201_CREATED,
    response_model=InstalmentPublic,
    responses=WRITE,
)
def plan(
    reference: Identifier,
    data: InstalmentIn,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> InstalmentPublic:
    """Add a planned payment to the payment schedule."""
    row = add_instalment(session, reference=reference, data=data, actor=user, clock=services.clock)
    return InstalmentPublic.model_validate(row)


@router.get("/{reference}/instalments", response_model=Page[InstalmentPublic], responses=READ)
def instalments(
    reference: Identifier, session: ReadSessionDep, user: TokenUser, paging: Paging
) -> Page[InstalmentPublic]:
    """The payment schedule: planned instalments by due date."""
    rows, total = list_entries(session, Instalment, get_contract(session, reference), paging)
    items = [InstalmentPublic.model_validate(row) for row in rows]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.post(
    "/{reference}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentPublic,
    responses=WRITE,
)
def pay(
    reference: Identifier,
    data: PaymentIn,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> PaymentPublic:
    """Record a payment made; its payment reference must be new (409 otherwise)."""
    row = add_payment(session, reference=reference, data=data, actor=user, clock=services.clock)
    return PaymentPublic.model_validate(row)


@router.get("/{reference}/payments", response_model=Page[PaymentPublic], responses=READ)
def payments(
    reference: Identifier, session: ReadSessionDep, user: TokenUser, paging: Paging
) -> Page[PaymentPublic]:
    """Payments made, by the day each was paid."""
    rows, total = list_entries(session, Payment, get_contract(session, reference), paging)
    items = [PaymentPublic.model_validate(row) for row in rows]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.post(
    "/{reference}/payments/{payment_id}/invoice", response_model=PaymentPublic, responses=WRITE
)
def invoice(
    reference: Identifier,
    payment_id: DbId,
    data: InvoiceLink,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> PaymentPublic:
    """Link a payment to its invoice record, once the invoice is captured."""
    row = link_invoice(
        session,
        reference=reference,
        payment_id=payment_id,
        invoice_record=data.invoice_record,
        actor=user,
        clock=services.clock,
    )
    return PaymentPublic.model_validate(row)


@router.post(
    "/{reference}/spend",
    status_code=status.HTTP_201_CREATED,
    response_model=SpendPublic,
    responses=WRITE,
)
def report_spend(
    reference: Identifier,
    data: SpendIn,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> SpendPublic:
    """Record spend and outcomes the provider reported, normally from a monitoring return."""
    return add_spend(session, reference=reference, data=data, actor=user, clock=services.clock)


@router.get("/{reference}/spend", response_model=Page[SpendPublic], responses=READ)
def spend(
    reference: Identifier, session: ReadSessionDep, user: TokenUser, paging: Paging
) -> Page[SpendPublic]:
    """Reported spend and outcomes, by the end of each period."""
    rows, total = list_entries(session, SpendReport, get_contract(session, reference), paging)
    items = [spend_public(row) for row in rows]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.post(
    "/{reference}/recoveries",
    status_code=status.HTTP_201_CREATED,
    response_model=RecoveryPublic,
    responses=WRITE,
)
def recover(
    reference: Identifier,
    data: RecoveryIn,
    session: SessionDep,
    services: ServicesDep,
    user: TokenContractManager,
) -> RecoveryPublic:
    """Record unspent funds recovered, under the decision record that required it."""
    row = add_recovery(session, reference=reference, data=data, actor=user, clock=services.clock)
    return RecoveryPublic.model_validate(row)


@router.get("/{reference}/recoveries", response_model=Page[RecoveryPublic], responses=READ)
def recoveries(
    reference: Identifier, session: ReadSessionDep, user: TokenUser, paging: Paging
) -> Page[RecoveryPublic]:
    """Recoveries of unspent funds, by the day each was recovered."""
    rows, total = list_entries(session, Recovery, get_contract(session, reference), paging)
    items = [RecoveryPublic.model_validate(row) for row in rows]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)
