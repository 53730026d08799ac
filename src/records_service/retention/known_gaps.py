"""The register of known gaps: records known to have existed that a contract's file lacks.

Owns recording, listing and closing gaps (each audited: ``gap.record``,
``gap.close``), and the rule that tells a known gap from an unexplained one: an open
known gap *explains* a completeness gap (:class:`~records_service.retention.Gap`) when
its record type is one the gap asks for and, for a quarterly return, its period
overlaps the quarter. The retention findings and the contract page's checklist both
apply :func:`explaining`; the findings CSV carries the register too. A gap is never
deleted: it is closed, naming the record later found on the contract's file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from records_service.audit.actions import AuditAction, GapPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.contracts.service import get_contract
from records_service.errors import Conflict, InvalidInput, NotFound
from records_service.pagination import PageParams
from records_service.records.service import get_record
from records_service.retention.completeness import Gap
from records_service.retention.models import GapReason, KnownGap
from records_service.retention.schemas import GapClose, GapCreate, GapPublic

GapState = Literal["open", "closed", "all"]

REASON_LABELS: dict[str, str] = {
    GapReason.LOST.value: "lost",
    GapReason.NEVER_MADE.value: "never made",
    GapReason.DESTROYED_EARLY.value: "destroyed before the schedule allowed",
    GapReason.HELD_BY_PROVIDER.value: "held by the provider",
}


def reason_label(reason: str) -> str:
    """What happened to the record, in words."""
    return REASON_LABELS.get(reason, reason)


def explaining(gap: Gap, known: Sequence[KnownGap]) -> KnownGap | None:
    """The first open known gap in ``known`` that explains ``gap``, if any."""
    for candidate in known:
        if candidate.closed_at is not None or candidate.record_type not in gap.record_types:
            continue
        if gap.quarter_start is None or gap.quarter_end is None:
            return candidate
        if candidate.period_start <= gap.quarter_end and candidate.period_end >= gap.quarter_start:
            return candidate
    return None


def describe(known: KnownGap) -> str:
    """A known gap in one line: its number, what happened and who reported it."""
    return (
        f"known gap {known.id}: {reason_label(known.reason)} "
        f"({known.period_start} to {known.period_end}), reported by {known.reported_by}"
    )


def record_gap(
    session: Session,
    *,
    reference: str,
    data: GapCreate,
    record_types: Collection[str],
    actor: User,
    clock: Clock,
) -> GapPublic:
    """Record a known gap on contract ``reference``'s file; audited as ``gap.record``."""
    contract = get_contract(session, reference)
    if data.record_type not in record_types:
        raise InvalidInput(
            f"unknown record type {data.record_type!r}",
            errors=[{"field": "record_type", "allowed": sorted(record_types)}],
        )
    assert contract.id is not None and actor.id is not None
    gap = KnownGap(
        contract_id=contract.id,
        **data.model_dump(mode="python"),
        recorded_at=clock(),
        recorded_by_id=actor.id,
    )
    session.add(gap)
    session.flush()
    _audit(session, AuditAction.GAP_RECORD, gap, reference, actor, clock)
    return _public(session, [gap], reference)[0]


def close_gap(
    session: Session,
    *,
    reference: str,
    gap_id: int,
    data: GapClose,
    actor: User,
    clock: Clock,
) -> GapPublic:
    """Close an open gap with the record found for it (on the same contract's file)."""
    contract = get_contract(session, reference)
    gap = session.get(KnownGap, gap_id)
    if gap is None or gap.contract_id != contract.id:
        raise NotFound(f"no known gap {gap_id} on contract {reference!r}")
    if gap.closed_at is not None:
        raise Conflict(f"known gap {gap_id} was closed on {gap.closed_at:%Y-%m-%d}")
    _check_found(session, data.found_record, contract, actor)
    assert actor.id is not None
    gap.closed_at, gap.closed_by_id = clock(), actor.id
    gap.found_record_id, gap.close_note = data.found_record, data.note
    session.add(gap)
    session.flush()
    _audit(session, AuditAction.GAP_CLOSE, gap, reference, actor, clock)
    return _public(session, [gap], reference)[0]


def _check_found(session: Session, record_id: str, contract: Contract, actor: User) -> None:
    try:
        record = get_record(session, record_id, actor)
    except NotFound:
        raise InvalidInput(f"no record {record_id}", errors=[{"field": "found_record"}]) from None
    if record.contract_id != contract.id:
        raise InvalidInput(
            f"record {record_id} is not on the file of contract {contract.reference!r}",
            errors=[{"field": "found_record"}],
        )


def _audit(
    session: Session, action: AuditAction, gap: KnownGap, reference: str, actor: User, clock: Clock
) -> None:
    assert gap.id is not None
    closing = action == AuditAction.GAP_CLOSE
    payload = GapPayload(
        gap_id=gap.id,
        contract=reference,
        record_type=gap.record_type,
        period_start=gap.period_start.isoformat(),
        period_end=gap.period_end.isoformat(),
        reason=gap.reason,
        evidence=None if closing else gap.evidence,
        reported_by=None if closing else gap.reported_by,
        found_record=gap.found_record_id if closing else None,
        note=gap.close_note if closing else None,
    )
    record_event(
        session,
        actor=actor.username,
        action=action,
        subject=f"contract:{reference}",
        payload=payload,
        clock=clock,
    )


def list_gaps(
    session: Session, *, reference: str, state: GapState = "all", page: PageParams | None = None
) -> tuple[list[GapPublic], int]:
    """Contract ``reference``'s known gaps by period (a page, if given), and the total."""
    contract = get_contract(session, reference)
    rows, total = _select(session, [contract.id], state, page)
    return _public(session, rows, reference), total


def _select(
    session: Session,
    contract_ids: list[int | None] | None,
    state: GapState,
    page: PageParams | None,
) -> tuple[list[KnownGap], int]:
    statement = select(KnownGap)
    if contract_ids is not None:
        statement = statement.where(col(KnownGap.contract_id).in_(contract_ids))
    if state == "open":
        statement = statement.where(col(KnownGap.closed_at).is_(None))
    elif state == "closed":
        statement = statement.where(col(KnownGap.closed_at).is_not(None))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    ordered = statement.order_by(
        col(KnownGap.contract_id), col(KnownGap.period_start), col(KnownGap.id)
    )
    if page is not None:
        ordered = ordered.offset(page.offset).limit(page.page_size)
    return list(session.exec(ordered)), int(total)


def open_gaps(session: Session, contract_id: int | None = None) -> dict[int, list[KnownGap]]:
    """Open known gaps by contract id (of one contract, when given)."""
    ids: list[int | None] | None = None if contract_id is None else [contract_id]
    rows, _ = _select(session, ids, "open", None)
    by_contract: dict[int, list[KnownGap]] = defaultdict(list)
    for row in rows:
        by_contract[row.contract_id].append(row)
    return dict(by_contract)


def gaps_for_export(session: Session, *, contract: str | None, state: str) -> list[GapPublic]:
    """Known gaps to export beside the findings: of one contract or all, open ones for
    open findings, closed ones for resolved findings, or all."""
    gap_state: GapState = "open" if state == "open" else "closed" if state == "resolved" else "all"
    ids: list[int | None] | None = None
    if contract:
        found = session.exec(select(Contract.id).where(Contract.reference == contract)).first()
        ids = [found]
    rows, _ = _select(session, ids, gap_state, None)
    return _public(session, rows)


def _public(
    session: Session, rows: Sequence[KnownGap], reference: str | None = None
) -> list[GapPublic]:
    users = {r.recorded_by_id for r in rows} | {r.closed_by_id for r in rows if r.closed_by_id}
    names = dict(session.exec(select(User.id, User.username).where(col(User.id).in_(users))).all())
    refs = {}
    if reference is None:
        cids = {r.contract_id for r in rows}
        refs = dict(
            session.exec(
                select(Contract.id, Contract.reference).where(col(Contract.id).in_(cids))
            ).all()
        )
    return [
        GapPublic(
            id=row.id or 0,
            contract=reference or refs.get(row.contract_id, "?"),
            record_type=row.record_type,
            period_start=row.period_start,
            period_end=row.period_end,
            reason=GapReason(row.reason),
            evidence=row.evidence,
            reported_by=row.reported_by,
            recorded_by=names.get(row.recorded_by_id, "?"),
            recorded_at=row.recorded_at,
            state="closed" if row.closed_at else "open",
            closed_by=names.get(row.closed_by_id) if row.closed_by_id else None,
            closed_at=row.closed_at,
            found_record=row.found_record_id,
            close_note=row.close_note,
        )
        for row in rows
    ]
