"""From database rows to the facts pure policy needs, and the hold lookups disposal depends on.

Owns the translation of ``Contract`` and ``Record`` rows into ``ContractFacts`` and
``RecordFacts``, which holds are active on a record (directly or through its
contract), and the row locks that serialise hold placement against disposal.
Deciding anything is left to :mod:`records_service.retention.policy`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from records_service.contracts.models import Contract
from records_service.errors import NotFound
from records_service.records.models import Record
from records_service.retention.models import Hold
from records_service.retention.policy import ContractFacts, RecordFacts


def contract_facts(contract: Contract) -> ContractFacts:
    """The policy's view of a contract row."""
    return ContractFacts(
        reference=contract.reference,
        status=contract.status,
        start_date=contract.start_date,
        end_date=contract.end_date,
        closed_on=contract.closed_on,
        is_deed=contract.is_deed,
        awarded_value_pence=contract.awarded_value_pence,
    )


def utc_date(moment: datetime) -> date:
    """The UTC calendar day of ``moment``."""
    return moment.astimezone(UTC).date()


def record_facts(
    record: Record, contract: ContractFacts | None, *, on_hold: bool = False
) -> RecordFacts:
    """The policy's view of a record row; ``on_hold`` covers holds on its contract too."""
    return RecordFacts(
        record_id=record.id,
        record_type=record.record_type,
        record_date=record.record_date,
        captured_on=utc_date(record.captured_at),
        contract=contract,
        on_hold=on_hold,
        status=record.status,
    )


def active_holds_for(session: Session, record: Record) -> list[Hold]:
    """Unreleased holds on ``record`` itself or on its contract, oldest first."""
    covers = col(Hold.record_id) == record.id
    if record.contract_id is not None:
        covers = or_(covers, col(Hold.contract_id) == record.contract_id)
    statement = select(Hold).where(col(Hold.released_at).is_(None), covers).order_by(col(Hold.id))
    return list(session.exec(statement))


def facts_for(session: Session, record: Record) -> RecordFacts:
    """The facts of one record, reading its contract and its holds."""
    contract = session.get(Contract, record.contract_id) if record.contract_id else None
    held = bool(active_holds_for(session, record))
    return record_facts(record, contract_facts(contract) if contract else None, on_hold=held)


def lock_record(session: Session, record_id: str) -> Record:
    """Read ``record_id`` and lock it, with its contract, until the transaction ends.

    Hold placement and disposal both take these locks first, so a hold placed while
    a disposal runs waits for it, and a disposal always sees a committed hold. (On
    SQLite every write transaction is already exclusive.)
    """
    record = session.exec(select(Record).where(Record.id == record_id).with_for_update()).first()
    if record is None:
        raise NotFound(f"no record {record_id}")
    if record.contract_id is not None:
        lock_contract(session, record.contract_id)
    return record


def lock_contract(session: Session, contract_id: int) -> Contract:
    """Read the contract with ``contract_id`` and lock it until the transaction ends."""
    contract = session.exec(
        select(Contract).where(Contract.id == contract_id).with_for_update()
    ).first()
    if contract is None:
        raise NotFound(f"no contract with id {contract_id}")
    return contract
