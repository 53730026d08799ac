"""The queries behind the Panel's report: each reads one kind of line for every
contract at once (grouped or joined), never one contract at a time.

Which case files a report covers is one SQL condition (:func:`contracts_in`), used
as a subquery wherever rows are limited to them, so no list of ids is sent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from records_service.audit.checkpoint import CheckpointError, note_signers, open_checkpoint
from records_service.audit.service import latest_checkpoint
from records_service.contracts.models import Contract
from records_service.errors import NotFound
from records_service.finance.models import Award, Payment, SpendReport
from records_service.finance.reconcile import load_money_facts
from records_service.records.models import Record
from records_service.reports.lines import (
    AwardLine,
    CaseFileLine,
    CheckpointLine,
    DisposalLine,
    FindingLine,
    Period,
)
from records_service.retention.completeness import RecordSummary
from records_service.retention.models import DisposalRecord, Finding
from records_service.retention.policy import ContractFacts


def contracts_in(period: Period) -> ColumnElement[bool]:
    """A contract is in the period when it was awarded in it, or its term (from the
    start date to the end date, or to the day it closed if earlier) overlaps it."""
    awarded = col(Contract.id).in_(
        core_select(col(Award.contract_id)).where(
            col(Award.awarded_on).between(period.start, period.end)
        )
    )
    term = and_(
        col(Contract.start_date).is_not(None),
        col(Contract.start_date) <= period.end,
        or_(col(Contract.end_date).is_(None), col(Contract.end_date) >= period.start),
        or_(col(Contract.closed_on).is_(None), col(Contract.closed_on) >= period.start),
    )
    return or_(awarded, term)


def _ids_in(period: Period) -> Any:
    return core_select(col(Contract.id)).where(contracts_in(period))


def case_files(session: Session, period: Period) -> dict[int, tuple[ContractFacts, CaseFileLine]]:
    """The case files in the period by contract id: the facts completeness needs, and
    the report's line (money and completeness still to add)."""
    rows = session.execute(
        core_select(
            col(Contract.id),
            col(Contract.reference),
            col(Contract.title),
            col(Contract.provider),
            col(Contract.status),
            col(Contract.start_date),
            col(Contract.end_date),
            col(Contract.closed_on),
            col(Contract.is_deed),
            col(Contract.awarded_value_pence),
        ).where(contracts_in(period))
    )
    found: dict[int, tuple[ContractFacts, CaseFileLine]] = {}
    for cid, ref, title, provider, status, start, end, closed, deed, value in rows:
        facts = ContractFacts(ref, status, start, end, closed, bool(deed), value)
        found[cid] = (facts, CaseFileLine(ref, title, provider, status))
    return found


def add_money(
    session: Session, files: dict[int, CaseFileLine], as_at: date, period: Period
) -> None:
    """Each file's money as at ``as_at``, what was paid in the period, and the spend and
    outcomes reported for periods ending in it."""
    for cid, facts in load_money_facts(session, as_at, files).items():
        line = files[cid]
        line.value_pence, line.paid_pence = facts.value_pence, facts.paid_pence
        line.reported_spent_pence = facts.reported_spent_pence
        line.recovered_pence = facts.recovered_pence
    paid = session.execute(
        core_select(col(Payment.contract_id), func.sum(col(Payment.amount_pence)))
        .where(
            col(Payment.paid_on).between(period.start, period.end),
            col(Payment.contract_id).in_(_ids_in(period)),
        )
        .group_by(col(Payment.contract_id))
    )
    for cid, total in paid:
        files[cid].paid_in_period_pence = int(total or 0)
    reports = session.execute(
        core_select(
            col(SpendReport.contract_id), col(SpendReport.spent_pence), col(SpendReport.outcomes)
        ).where(
            col(SpendReport.period_end).between(period.start, min(period.end, as_at)),
            col(SpendReport.contract_id).in_(_ids_in(period)),
        )
    )
    for cid, spent, outcomes in reports:
        _add_report(files[cid], spent, outcomes)


def _add_report(line: CaseFileLine, spent: int | None, outcomes: str) -> None:
    line.spent_in_period_pence += spent or 0
    for name, figure in json.loads(outcomes).items():
        if isinstance(figure, int):
            line.outcomes[name] = line.outcomes.get(name, 0) + figure


def records_on_file(
    session: Session, period: Period, as_at: date
) -> dict[int, list[RecordSummary]]:
    """The type and date of every record on the files in the period, dated by ``as_at``
    (disposed records count: they were on file, and went by the schedule)."""
    rows = session.execute(
        core_select(col(Record.contract_id), col(Record.record_type), col(Record.record_date))
        .where(col(Record.contract_id).in_(_ids_in(period)), col(Record.record_date) <= as_at)
        .execution_options(yield_per=10_000)
    )
    found: dict[int, list[RecordSummary]] = defaultdict(list)
    for cid, record_type, record_date in rows:
        found[cid].append(RecordSummary(record_type, record_date))
    return found


def awards(session: Session, period: Period, values: dict[int, int]) -> list[AwardLine]:
    """The awards made in the period, by date; ``values`` are the contracts' values with
    variations (the case files' lines hold them)."""
    rows = session.execute(
        core_select(
            col(Contract.id),
            col(Contract.reference),
            col(Contract.title),
            func.coalesce(col(Award.recipient), col(Contract.provider)),
            col(Contract.funding_stream),
            col(Award.kind),
            col(Award.awarded_on),
            col(Contract.awarded_value_pence),
            col(Award.decision_record_id),
            col(Record.title),
        )
        .join(Award, col(Award.contract_id) == col(Contract.id))
        .outerjoin(Record, col(Record.id) == col(Award.decision_record_id))
        .where(col(Award.awarded_on).between(period.start, period.end))
        .order_by(col(Award.awarded_on), col(Contract.reference))
    )
    return [
        AwardLine(ref, title, who, stream, kind, on, award or 0, values.get(cid, award or 0), *rec)
        for cid, ref, title, who, stream, kind, on, award, *rec in rows
    ]


def open_findings(session: Session) -> list[FindingLine]:
    """Every finding open now, by contract and age."""
    rows = session.execute(
        core_select(
            col(Finding.kind),
            col(Finding.contract_ref),
            col(Finding.summary),
            col(Finding.first_seen),
        )
        .where(col(Finding.resolved_at).is_(None))
        .order_by(
            col(Finding.kind), col(Finding.contract_ref), col(Finding.first_seen), col(Finding.id)
        )
    )
    return [FindingLine(*row) for row in rows]


def disposals(session: Session, period: Period) -> list[DisposalLine]:
    """The disposals carried out in the period (by UTC day), in order."""
    first = datetime.combine(period.start, time.min, tzinfo=UTC)
    after = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=UTC)
    rows = session.execute(
        core_select(
            col(DisposalRecord.record_id),
            col(DisposalRecord.title),
            col(DisposalRecord.record_type),
            col(DisposalRecord.contract_ref),
            col(DisposalRecord.action),
            col(DisposalRecord.rule),
            col(DisposalRecord.approved_by),
            col(DisposalRecord.executed_at),
        )
        .where(col(DisposalRecord.executed_at) >= first, col(DisposalRecord.executed_at) < after)
        .order_by(col(DisposalRecord.executed_at), col(DisposalRecord.id))
    )
    return [DisposalLine(*row) for row in rows]


def signed_checkpoint(session: Session, verifier_keys: Sequence[str]) -> CheckpointLine | None:
    """The latest signed checkpoint, with the key that signed it; None if none was."""
    try:
        row, parsed = latest_checkpoint(session)
        [(name, key_id), *_] = note_signers(row.note)
    except (NotFound, CheckpointError, ValueError):
        return None
    return CheckpointLine(
        origin=parsed.origin,
        tree_size=parsed.tree_size,
        root_hash=parsed.root_hash,
        signed_at=parsed.timestamp or row.created_at,
        key_name=name,
        key_id=key_id,
        verified_by=_verifying_key(row.note, verifier_keys),
    )


def _verifying_key(note: str, verifier_keys: Sequence[str]) -> str | None:
    for key in verifier_keys:
        try:
            open_checkpoint(note, key)
        except CheckpointError:
            continue
        return key
    return None
