"""Creating, listing, reading and changing contracts; every change is audited.

Each creation and edit also queues a write-once *contract note* with the contract's
full details (:mod:`records_service.notes`), so that contracts, and their edits,
can be recovered from the store even when no record was filed under them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, ContractPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.contracts.schemas import ContractCreate, ContractUpdate
from records_service.errors import Conflict, InvalidInput, NotFound
from records_service.notes.queue import queue_note
from records_service.pagination import PageParams

_CONTRACTS = Contract.__table__  # type: ignore[attr-defined]
_USERS = User.__table__  # type: ignore[attr-defined]
# Columns that name rows of this database; details carry the user names instead.
_LOCAL_IDS = ("id", "created_by_id", "updated_by_id")


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def create_contract(
    session: Session, *, data: ContractCreate, actor: User, clock: Clock
) -> Contract:
    """Create a contract; the reference must be unique."""
    if session.exec(select(Contract).where(Contract.reference == data.reference)).first():
        raise Conflict(f"contract {data.reference!r} already exists")
    now = clock()
    assert actor.id is not None
    contract = Contract(
        **data.model_dump(mode="python"),
        created_at=now,
        created_by_id=actor.id,
        updated_at=now,
        updated_by_id=actor.id,
    )
    session.add(contract)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"contract {data.reference!r} already exists") from None
    changes = {k: [None, _jsonable(v)] for k, v in data.model_dump().items() if v is not None}
    entry = record_event(
        session,
        actor=actor.username,
        action=AuditAction.CONTRACT_CREATE,
        subject=f"contract:{contract.reference}",
        payload=ContractPayload(changes=changes),
        clock=clock,
    )
    _queue_contract_note(session, contract.reference, "create", entry.idx, clock)
    return contract


def _queue_contract_note(
    session: Session, reference: str, event: str, sequence: int, clock: Clock
) -> None:
    """Queue the contract's write-once note with its details as they now are, so that
    it can be rebuilt from the store (``sequence``, the audit entry's index, orders the
    notes of one contract; see docs/storage.md)."""
    session.flush()
    _, details = contract_details(session, reference)
    fields = {"event": event, "sequence": sequence, "reference": reference, "details": details}
    queue_note(session, "contract", fields, sequence=sequence, clock=clock)


def get_contract(session: Session, reference: str) -> Contract:
    """The contract with ``reference``; raises ``NotFound``."""
    contract = session.exec(select(Contract).where(Contract.reference == reference)).first()
    if contract is None:
        raise NotFound(f"no contract with reference {reference!r}")
    return contract


def contract_by_name(session: Session, name: str) -> Contract:
    """The contract whose reference is ``name`` or, failing that, the one whose title is
    (ignoring case), for forms where people pick a contract by what it is called."""
    exact = session.exec(select(Contract).where(Contract.reference == name)).first()
    if exact is not None:
        return exact
    titled = session.exec(
        select(Contract).where(func.lower(Contract.title) == name.lower()).limit(2)
    ).all()
    if len(titled) > 1:
        raise InvalidInput(f"more than one contract is called {name!r}: choose one by reference")
    if not titled:
        raise NotFound(f"no contract has the reference or title {name!r}")
    return titled[0]


def contract_id(session: Session, reference: str) -> int:
    """The id of the contract with ``reference``; raises ``NotFound``.

    For checks that need only the id (every capture against a contract makes one):
    a Core statement, without loading the row through the ORM.
    """
    found = session.connection().execute(
        sa_select(_CONTRACTS.c.id).where(_CONTRACTS.c.reference == reference)
    )
    value = found.scalar_one_or_none()
    if value is None:
        raise NotFound(f"no contract with reference {reference!r}")
    return int(value)


def contract_details(session: Session, reference: str) -> tuple[int, dict[str, Any]]:
    """The id and the details of the contract with ``reference``; raises ``NotFound``.

    The details are every column but the row ids, with ``created_by`` and
    ``updated_by`` as user names: what a sidecar keeps so that the contract can be
    rebuilt from the store (:func:`contract_from_details`). One Core statement, as
    every capture against a contract makes it.
    """
    creator, updater = _USERS.alias("creator"), _USERS.alias("updater")
    found = session.connection().execute(
        sa_select(_CONTRACTS, creator.c.username, updater.c.username)
        .join(creator, creator.c.id == _CONTRACTS.c.created_by_id)
        .join(updater, updater.c.id == _CONTRACTS.c.updated_by_id)
        .where(_CONTRACTS.c.reference == reference)
    )
    row = found.one_or_none()
    if row is None:
        raise NotFound(f"no contract with reference {reference!r}")
    values = row._mapping
    details = {c.name: values[c] for c in _CONTRACTS.columns if c.name not in _LOCAL_IDS}
    details["created_by"], details["updated_by"] = row[-2], row[-1]
    return int(values[_CONTRACTS.c.id]), details


def contract_from_details(details: Mapping[str, Any], user_ids: Mapping[str, int]) -> Contract:
    """A new contract row from details a sidecar kept (dates as text are parsed).

    ``user_ids`` maps user names to ids; ``created_by`` and ``updated_by`` must be in it.
    Fields the details lack take the model's defaults (``title`` falls back to the
    reference); fields the model does not know are ignored. Raises ``ValueError`` on
    a value that does not fit.
    """
    known = set(Contract.model_fields) - set(_LOCAL_IDS)
    fields = {k: v for k, v in details.items() if k in known and v is not None}
    fields.setdefault("title", details["reference"])
    for name in ("created_at", "updated_at"):
        if isinstance(fields.get(name), str):
            fields[name] = datetime.fromisoformat(fields[name])
    validated = Contract.model_validate(
        {
            **fields,
            "created_by_id": user_ids[details["created_by"]],
            "updated_by_id": user_ids[details["updated_by"]],
        }
    )
    return Contract(**validated.model_dump())


def apply_details(
    contract: Contract, details: Mapping[str, Any], user_ids: Mapping[str, int]
) -> bool:
    """Bring a held contract to ``details`` (a contract note's, newer than the row);
    returns whether anything changed. Raises as :func:`contract_from_details` does."""
    wanted = contract_from_details(details, user_ids)
    changed = False
    for name in set(Contract.model_fields) - {"id", "reference"}:
        value = getattr(wanted, name)
        if getattr(contract, name) != value:
            setattr(contract, name, value)
            changed = True
    return changed


def list_contracts(
    session: Session,
    *,
    page: PageParams,
    status: str | None = None,
    provider: str | None = None,
    funding_stream: str | None = None,
    q: str | None = None,
) -> tuple[list[Contract], int]:
    """A page of contracts matching the filters, and the total."""
    statement = select(Contract).where(*contract_conditions(status, provider, funding_stream, q))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Contract.reference)).offset(page.offset).limit(page.page_size)
    )
    return list(rows), int(total)


def contract_conditions(
    status: str | None = None,
    provider: str | None = None,
    funding_stream: str | None = None,
    q: str | None = None,
) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the contracts that match the filters (none: every one).

    ``q`` is words in the reference or title, ignoring case; the rest match exactly.
    """
    conditions: list[ColumnElement[bool]] = []
    if status:
        conditions.append(col(Contract.status) == status)
    if provider:
        conditions.append(col(Contract.provider) == provider)
    if funding_stream:
        conditions.append(col(Contract.funding_stream) == funding_stream)
    if q:
        pattern = f"%{q.lower()}%"
        conditions.append(
            func.lower(Contract.title).like(pattern) | func.lower(Contract.reference).like(pattern)
        )
    return conditions


def funding_streams(session: Session) -> list[str]:
    """Every funding stream named on a contract, sorted, to filter by."""
    rows = session.exec(
        select(Contract.funding_stream).where(col(Contract.funding_stream).is_not(None)).distinct()
    )
    return sorted(stream for stream in rows if stream)


def references_by_id(session: Session, contract_ids: Collection[int]) -> dict[int, str]:
    """``id -> reference`` of the contracts in ``contract_ids``."""
    if not contract_ids:
        return {}
    rows = session.exec(
        select(Contract.id, Contract.reference).where(col(Contract.id).in_(set(contract_ids)))
    )
    return {cid: reference for cid, reference in rows if cid is not None}


def recently_changed_contracts(session: Session, limit: int) -> list[tuple[str, str]]:
    """``(reference, title)`` of the ``limit`` contracts changed last, sorted, to choose from."""
    rows = session.exec(
        select(Contract.reference, Contract.title)
        .order_by(col(Contract.updated_at).desc())
        .limit(limit)
    )
    return sorted(rows)


def update_contract(
    session: Session, *, reference: str, data: ContractUpdate, actor: User, clock: Clock
) -> Contract:
    """Apply the given fields to a contract and audit the old and new values."""
    contract = get_contract(session, reference)
    fields = data.model_dump(exclude_unset=True)
    start = fields.get("start_date", contract.start_date)
    end = fields.get("end_date", contract.end_date)
    if start and end and end < start:
        raise InvalidInput("end_date is before start_date")
    changes: dict[str, list[object]] = {}
    for name, value in fields.items():
        old = getattr(contract, name)
        if old != value:
            changes[name] = [_jsonable(old), _jsonable(value)]
            setattr(contract, name, value)
    if not changes:
        return contract
    assert actor.id is not None
    contract.updated_at = clock()
    contract.updated_by_id = actor.id
    session.add(contract)
    entry = record_event(
        session,
        actor=actor.username,
        action=AuditAction.CONTRACT_UPDATE,
        subject=f"contract:{reference}",
        payload=ContractPayload(changes=changes),
        clock=clock,
    )
    _queue_contract_note(session, reference, "update", entry.idx, clock)
    return contract
