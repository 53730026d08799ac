"""Recording money on a contract's file and reading it back; every entry is audited.

Each function runs in the caller's transaction and writes one audit entry on the
contract (``contract:REF``). ``actor`` is the signed-in user (records they may not
see cannot be linked: they do not exist for them) or a name such as ``cli`` for a
command, which sees every record. A record an entry links to must be on the same
contract's file and of the kind the entry needs (a decision for a variation, an
invoice for a payment, a monitoring return for a spend report).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from records_service.audit.actions import (
    AuditAction,
    AwardPayload,
    FundsRecoveryPayload,
    InstalmentPayload,
    InvoiceLinkPayload,
    PaymentPayload,
    SpendPayload,
    VariationPayload,
)
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.contracts.service import get_contract
from records_service.errors import Conflict, InvalidInput, NotFound
from records_service.finance.models import (
    Award,
    Instalment,
    Payment,
    Recovery,
    SpendReport,
    Variation,
)
from records_service.finance.schemas import (
    AwardIn,
    AwardPublic,
    InstalmentIn,
    MoneySummary,
    PaymentIn,
    RecoveryIn,
    SpendIn,
    SpendPublic,
    VariationIn,
)
from records_service.pagination import PageParams
from records_service.records.models import Record
from records_service.records.service import get_record

Actor = User | str
DECISION_TYPES = ("decision_record",)
VARIATION_TYPES = ("decision_record", "contract_variation")
INVOICE_TYPES = ("invoice",)
RETURN_TYPES = ("monitoring_return",)

_Row = TypeVar("_Row", bound=SQLModel)


def actor_name(actor: Actor) -> str:
    """The name an entry is recorded under."""
    return actor.username if isinstance(actor, User) else actor


def linked_record(
    session: Session,
    record_id: str,
    *,
    contract: Contract,
    types: Collection[str],
    actor: Actor,
    field: str,
) -> Record:
    """The record ``record_id``, checked to be on ``contract``'s file and of ``types``.

    Refused with a 422 naming ``field`` otherwise (a record the user may not see is
    refused as one that does not exist).
    """
    try:
        record = (
            get_record(session, record_id, actor)
            if isinstance(actor, User)
            else session.get(Record, record_id)
        )
    except NotFound:
        record = None
    problem = None
    if record is None:
        problem = f"{field}: no record {record_id}"
    elif record.contract_id != contract.id:
        problem = f"{field}: record {record_id} is not on the file of {contract.reference}"
    elif record.record_type not in types:
        wanted = " or ".join(types)
        problem = f"{field}: record {record_id} is a {record.record_type}, not a {wanted}"
    if problem is not None or record is None:
        raise InvalidInput(problem or field, errors=[{"field": field, "msg": problem}])
    return record


def _audit(
    session: Session,
    contract: Contract,
    actor: Actor,
    action: AuditAction,
    payload: Any,
    clock: Clock,
) -> None:
    record_event(
        session,
        actor=actor_name(actor),
        action=action,
        subject=f"contract:{contract.reference}",
        payload=payload,
        clock=clock,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def get_award(session: Session, contract: Contract) -> AwardPublic | None:
    """The contract's award, if recorded."""
    award = session.get(Award, contract.id)
    if award is None:
        return None
    return AwardPublic(
        contract=contract.reference,
        kind=award.kind,
        awarded_on=award.awarded_on,
        awarded_value_pence=contract.awarded_value_pence,
        decision_record=award.decision_record_id,
        recipient=award.recipient,
        purpose=award.purpose,
        conditions=award.conditions,
        reasons=award.reasons,
        recorded_at=award.recorded_at,
        recorded_by=award.recorded_by,
    )


_AWARD_FIELDS = ("kind", "awarded_on", "recipient", "purpose", "conditions", "reasons")


def _apply_award(award: Award, data: AwardIn) -> dict[str, list[object]]:
    """Set ``data`` on ``award``; each changed field's old and new value."""
    changes: dict[str, list[object]] = {}
    wanted: dict[str, object] = {name: getattr(data, name) for name in _AWARD_FIELDS}
    wanted["kind"] = data.kind.value
    for name, new in wanted.items():
        old = getattr(award, name, None)
        if old != new:
            changes[name] = [_jsonable(old), _jsonable(new)]
            setattr(award, name, new)
    if award.decision_record_id != data.decision_record:
        changes["decision_record"] = [award.decision_record_id, data.decision_record]
        award.decision_record_id = data.decision_record
    return changes


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _decision(session: Session, contract: Contract, record_id: str, actor: Actor) -> Record:
    return linked_record(
        session,
        record_id,
        contract=contract,
        types=DECISION_TYPES,
        actor=actor,
        field="decision_record",
    )


def set_award(
    session: Session, *, reference: str, data: AwardIn, actor: Actor, clock: Clock
) -> AwardPublic:
    """Record or change how the contract was awarded (and its value, when given)."""
    contract = get_contract(session, reference)
    assert contract.id is not None
    if data.decision_record is not None:
        _decision(session, contract, data.decision_record, actor)
    award = session.get(Award, contract.id)
    is_new = award is None
    if award is None:
        award = Award(
            contract_id=contract.id,
            kind=data.kind.value,
            awarded_on=data.awarded_on,
            recorded_at=clock(),
            recorded_by=actor_name(actor),
        )
    changes = _apply_award(award, data)
    if is_new:
        changes |= {"kind": [None, award.kind], "awarded_on": [None, _iso(award.awarded_on)]}
    value = data.awarded_value_pence
    if value is not None and value != contract.awarded_value_pence:
        changes["awarded_value_pence"] = [contract.awarded_value_pence, value]
        contract.awarded_value_pence = value
        session.add(contract)
    if changes:
        award.recorded_at, award.recorded_by = clock(), actor_name(actor)
        session.add(award)
        session.flush()
        payload = AwardPayload(changes=changes)
        _audit(session, contract, actor, AuditAction.FINANCE_AWARD, payload, clock)
    result = get_award(session, contract)
    assert result is not None
    return result


def _sum(session: Session, column: Any, *where: Any) -> int:
    total = session.exec(select(func.coalesce(func.sum(column), 0)).where(*where)).one()
    return int(total)


def current_value(session: Session, contract: Contract, at: date | None = None) -> int:
    """Award plus every variation decided (by ``at``, when given), in pence."""
    where = [col(Variation.contract_id) == contract.id]
    if at is not None:
        where.append(col(Variation.decided_on) <= at)
    return (contract.awarded_value_pence or 0) + _sum(session, col(Variation.change_pence), *where)


def add_variation(
    session: Session, *, reference: str, data: VariationIn, actor: Actor, clock: Clock
) -> Variation:
    """Record a decision that changed the value; the value may not go below zero."""
    contract = get_contract(session, reference)
    assert contract.id is not None
    linked_record(
        session, data.record, contract=contract, types=VARIATION_TYPES, actor=actor, field="record"
    )
    before = current_value(session, contract)
    after = before + data.change_pence
    if after < 0:
        raise InvalidInput(
            f"change_pence: the value would fall below zero (it is {before} pence)",
            errors=[{"field": "change_pence", "msg": "the value would fall below zero"}],
        )
    row = Variation(
        contract_id=contract.id,
        decided_on=data.decided_on,
        change_pence=data.change_pence,
        record_id=data.record,
        reason=data.reason,
        recorded_at=clock(),
        recorded_by=actor_name(actor),
    )
    session.add(row)
    session.flush()
    payload = VariationPayload(
        decided_on=data.decided_on.isoformat(),
        change_pence=data.change_pence,
        value_before_pence=before,
        value_after_pence=after,
        record=data.record,
        reason=data.reason,
    )
    _audit(session, contract, actor, AuditAction.FINANCE_VARIATION, payload, clock)
    return row


def add_instalment(
    session: Session, *, reference: str, data: InstalmentIn, actor: Actor, clock: Clock
) -> Instalment:
    """Add a planned payment to the contract's payment schedule."""
    contract = get_contract(session, reference)
    assert contract.id is not None
    row = Instalment(
        contract_id=contract.id,
        due_on=data.due_on,
        amount_pence=data.amount_pence,
        note=data.note,
        recorded_at=clock(),
        recorded_by=actor_name(actor),
    )
    session.add(row)
    session.flush()
    payload = InstalmentPayload(
        due_on=data.due_on.isoformat(), amount_pence=data.amount_pence, note=data.note
    )
    _audit(session, contract, actor, AuditAction.FINANCE_INSTALMENT, payload, clock)
    return row


def payment_by_reference(session: Session, payment_reference: str) -> Payment | None:
    """The payment with this finance-system reference, on any contract."""
    return session.exec(
        select(Payment).where(Payment.payment_reference == payment_reference)
    ).first()


def add_payment(
    session: Session,
    *,
    reference: str,
    data: PaymentIn,
    actor: Actor,
    clock: Clock,
    source: str = "api",
) -> Payment:
    """Record a payment made; its payment reference must be new (409 otherwise)."""
    contract = get_contract(session, reference)
    assert contract.id is not None
    if payment_by_reference(session, data.payment_reference) is not None:
        raise Conflict(f"payment {data.payment_reference!r} is already recorded")
    if data.invoice_record is not None:
        linked_record(
            session,
            data.invoice_record,
            contract=contract,
            types=INVOICE_TYPES,
            actor=actor,
            field="invoice_record",
        )
    row = Payment(
        contract_id=contract.id,
        payment_reference=data.payment_reference,
        paid_on=data.paid_on,
        amount_pence=data.amount_pence,
        invoice_reference=data.invoice_reference,
        invoice_record_id=data.invoice_record,
        source=source,
        recorded_at=clock(),
        recorded_by=actor_name(actor),
    )
    session.add(row)
    session.flush()
    _audit(session, contract, actor, AuditAction.FINANCE_PAYMENT, _paid(data, source), clock)
    return row


def _paid(data: PaymentIn, source: str) -> PaymentPayload:
    return PaymentPayload(
        payment_reference=data.payment_reference,
        paid_on=data.paid_on.isoformat(),
        amount_pence=data.amount_pence,
        invoice_reference=data.invoice_reference,
        invoice_record=data.invoice_record,
        source=source,
    )


def link_invoice(
    session: Session,
    *,
    reference: str,
    payment_id: int,
    invoice_record: str,
    actor: Actor,
    clock: Clock,
) -> Payment:
    """Link a payment to its invoice record; a payment already linked is a 409."""
    contract = get_contract(session, reference)
    payment = session.get(Payment, payment_id)
    if payment is None or payment.contract_id != contract.id:
        raise NotFound(f"no payment {payment_id} on contract {reference!r}")
    if payment.invoice_record_id == invoice_record:
        return payment
    if payment.invoice_record_id is not None:
        raise Conflict(
            f"payment {payment.payment_reference!r} is already linked to invoice record "
            f"{payment.invoice_record_id}"
        )
    linked_record(
        session,
        invoice_record,
        contract=contract,
        types=INVOICE_TYPES,
        actor=actor,
        field="invoice_record",
    )
    payment.invoice_record_id = invoice_record
    session.add(payment)
    session.flush()
    payload = InvoiceLinkPayload(
        payment_reference=payment.payment_reference, invoice_record=invoice_record
    )
    _audit(session, contract, actor, AuditAction.FINANCE_INVOICE_LINK, payload, clock)
    return payment


def add_spend(
    session: Session, *, reference: str, data: SpendIn, actor: Actor, clock: Clock
) -> SpendPublic:
    """Record spend and outcomes the provider reported; one report per monitoring return."""
    contract = get_contract(session, reference)
    assert contract.id is not None
    if data.return_record is not None:
        _check_return(session, contract, data.return_record, actor)
    outcomes = dict(sorted(data.outcomes.items()))
    row = SpendReport(
        contract_id=contract.id,
        period_start=data.period_start,
        period_end=data.period_end,
        spent_pence=data.spent_pence,
        outcomes=json.dumps(outcomes, sort_keys=True),
        return_record_id=data.return_record,
        recorded_at=clock(),
        recorded_by=actor_name(actor),
    )
    session.add(row)
    session.flush()
    payload = SpendPayload(
        period_start=data.period_start.isoformat(),
        period_end=data.period_end.isoformat(),
        spent_pence=data.spent_pence,
        outcomes=outcomes,
        return_record=data.return_record,
    )
    _audit(session, contract, actor, AuditAction.FINANCE_SPEND, payload, clock)
    return spend_public(row)


def _check_return(session: Session, contract: Contract, record_id: str, actor: Actor) -> None:
    """A monitoring return on the file whose spend is not yet recorded."""
    linked_record(
        session,
        record_id,
        contract=contract,
        types=RETURN_TYPES,
        actor=actor,
        field="return_record",
    )
    taken = session.exec(
        select(SpendReport.id).where(SpendReport.return_record_id == record_id)
    ).first()
    if taken is not None:
        raise Conflict(f"the spend of return {record_id} is already recorded")


def spend_public(row: SpendReport) -> SpendPublic:
    """A spend report as the API returns it."""
    assert row.id is not None
    return SpendPublic(
        id=row.id,
        period_start=row.period_start,
        period_end=row.period_end,
        spent_pence=row.spent_pence,
        outcomes=json.loads(row.outcomes),
        return_record_id=row.return_record_id,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


def add_recovery(
    session: Session, *, reference: str, data: RecoveryIn, actor: Actor, clock: Clock
) -> Recovery:
    """Record unspent funds recovered under a decision record on the file."""
    contract = get_contract(session, reference)
    assert contract.id is not None
    linked_record(
        session,
        data.decision_record,
        contract=contract,
        types=DECISION_TYPES,
        actor=actor,
        field="decision_record",
    )
    row = Recovery(
        contract_id=contract.id,
        recovered_on=data.recovered_on,
        amount_pence=data.amount_pence,
        decision_record_id=data.decision_record,
        reason=data.reason,
        recorded_at=clock(),
        recorded_by=actor_name(actor),
    )
    session.add(row)
    session.flush()
    payload = FundsRecoveryPayload(
        recovered_on=data.recovered_on.isoformat(),
        amount_pence=data.amount_pence,
        decision_record=data.decision_record,
        reason=data.reason,
    )
    _audit(session, contract, actor, AuditAction.FINANCE_RECOVERY, payload, clock)
    return row


def list_entries(
    session: Session, table: type[_Row], contract: Contract, page: PageParams | None = None
) -> tuple[list[_Row], int]:
    """A contract's entries of one kind (variations, payments, ...) by date, and the total."""
    contract_column, day, row_id = _COLUMNS[table]
    statement = select(table).where(contract_column == contract.id)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    ordered = statement.order_by(day, row_id)
    if page is not None:
        ordered = ordered.offset(page.offset).limit(page.page_size)
    return list(session.exec(ordered)), int(total)


# Each entry table's contract, date and id columns.
_COLUMNS: dict[type[SQLModel], tuple[Any, Any, Any]] = {
    Variation: (col(Variation.contract_id), col(Variation.decided_on), col(Variation.id)),
    Instalment: (col(Instalment.contract_id), col(Instalment.due_on), col(Instalment.id)),
    Payment: (col(Payment.contract_id), col(Payment.paid_on), col(Payment.id)),
    SpendReport: (col(SpendReport.contract_id), col(SpendReport.period_end), col(SpendReport.id)),
    Recovery: (col(Recovery.contract_id), col(Recovery.recovered_on), col(Recovery.id)),
}


def money_summary(session: Session, contract: Contract, at: date) -> MoneySummary:
    """The contract's money as at ``at``: entries dated after it are left out."""
    cid = contract.id

    def total(table: type[SQLModel], amount: Any, *where: Any) -> int:
        return _sum(session, amount, _COLUMNS[table][0] == cid, *where)

    variations = total(Variation, col(Variation.change_pence), col(Variation.decided_on) <= at)
    paid = total(Payment, col(Payment.amount_pence), col(Payment.paid_on) <= at)
    spent = total(SpendReport, col(SpendReport.spent_pence), col(SpendReport.period_end) <= at)
    recovered = total(Recovery, col(Recovery.amount_pence), col(Recovery.recovered_on) <= at)
    award = contract.awarded_value_pence or 0
    return MoneySummary(
        as_at=at,
        award_pence=award,
        variations_pence=variations,
        value_pence=award + variations,
        scheduled_pence=total(Instalment, col(Instalment.amount_pence)),
        scheduled_to_date_pence=total(
            Instalment, col(Instalment.amount_pence), col(Instalment.due_on) <= at
        ),
        paid_pence=paid,
        reported_spent_pence=spent,
        recovered_pence=recovered,
        unspent_pence=paid - spent - recovered,
        payments=_count(session, Payment, cid, col(Payment.paid_on) <= at),
        spend_reports=_count(session, SpendReport, cid, col(SpendReport.period_end) <= at),
    )


def _count(session: Session, table: type[SQLModel], cid: int | None, *where: Any) -> int:
    contract_column = _COLUMNS[table][0]
    statement = select(func.count()).select_from(table).where(contract_column == cid, *where)
    return int(session.exec(statement).one())
