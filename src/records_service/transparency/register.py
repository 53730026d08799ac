"""Deriving the register from the case files, as at a day.

What must be published (the Elected Local Policing Bodies (Specified Information)
Order 2011, as amended):

- ``contract``: each contract whose value (award plus variations) is over the
  threshold (£10,000), once its award is recorded; due from its award date;
- ``tender``: each invitation to tender on the file of a contract expected to be
  worth over the threshold (its value while tendering), while the contract is planned
  or being tendered, or once its award is recorded; due from the invitation's date;
- ``grant``: each crime and disorder reduction grant, with its conditions, recipient,
  purpose and reasons; due from its award date;
- ``decision``: each decision record tagged as of significant public interest (the
  schedule's ``significant_decision_tag``); due from the decision's date.

Each must be published within the schedule's ``publish_within_days``. An item is
``published`` (a publication was recorded on or before the day), ``overdue`` or
``due`` (its time has not run out).

A contract joins the register when its award is recorded (the award date is what
its deadline counts from): a file from before the service kept money, whose award
was never recorded here, is not reported as overdue for what may have been published
elsewhere; recording its award brings it in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from records_service.contracts.models import Contract
from records_service.finance.models import Award, AwardKind, Variation
from records_service.records.models import DISPOSED_STATUSES, Record, RecordTag
from records_service.transparency.models import ItemKind, Publication

AWARDED_STATUSES = ("awarded", "active", "closed", "terminated")
TENDERING_STATUSES = ("planned", "tendering")


@dataclass(frozen=True)
class RegisterRules:
    """The schedule's ``[transparency]`` table."""

    contract_over_pence: int = 1_000_000
    tender_over_pence: int = 1_000_000
    publish_within_days: int = 30
    significant_decision_tag: str = "significant-public-interest"

    def to_dict(self) -> dict[str, Any]:
        """The rules by name (served with the schedule and in the JSON export)."""
        return dict(self.__dict__)


@dataclass
class RegisterItem:
    """One thing the Order requires to be published, and whether it has been."""

    key: str
    kind: ItemKind
    contract: str | None
    record_id: str | None
    title: str
    counterparty: str | None
    value_pence: int | None
    due_from: date
    due_by: date | None = None
    state: str = "due"
    published_on: date | None = None
    location: str | None = None
    copy_record_id: str | None = None
    copy_held: bool | None = None
    grant: dict[str, str | None] | None = None
    days_overdue: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def build_register(session: Session, rules: RegisterRules, as_at: date) -> list[RegisterItem]:
    """Every item that must be published as at ``as_at``, with its publication, by key."""
    items = [
        *_contract_items(session, rules, as_at),
        *_tender_items(session, rules, as_at),
        *_decision_items(session, rules, as_at),
    ]
    _apply_publications(session, items, rules, as_at)
    return sorted(items, key=lambda item: (item.due_from, item.key))


def _values(session: Session, as_at: date) -> dict[int, int]:
    """Each contract's variations decided by ``as_at``."""
    rows = session.execute(
        core_select(col(Variation.contract_id), func.sum(col(Variation.change_pence)))
        .where(col(Variation.decided_on) <= as_at)
        .group_by(col(Variation.contract_id))
    )
    return {cid: int(total or 0) for cid, total in rows}


def _contract_items(session: Session, rules: RegisterRules, as_at: date) -> Iterator[RegisterItem]:
    varied = _values(session, as_at)
    rows = session.execute(
        core_select(Contract, Award)
        .join(Award, col(Award.contract_id) == col(Contract.id))
        .where(col(Contract.status).in_(AWARDED_STATUSES), col(Award.awarded_on) <= as_at)
        .order_by(col(Contract.reference))
    )
    for contract, award in rows:
        value = (contract.awarded_value_pence or 0) + varied.get(contract.id, 0)
        since, kind = award.awarded_on, award.kind
        if kind == AwardKind.CRIME_AND_DISORDER_GRANT.value:
            yield _grant_item(contract, award, value)
        elif kind == AwardKind.CONTRACT.value and value > rules.contract_over_pence:
            yield RegisterItem(
                f"contract:{contract.reference}",
                ItemKind.CONTRACT,
                contract.reference,
                None,
                contract.title,
                contract.provider,
                value,
                since,
            )


def _grant_item(contract: Contract, award: Award, value: int) -> RegisterItem:
    grant = {
        "recipient": award.recipient or contract.provider,
        "purpose": award.purpose,
        "conditions": award.conditions,
        "reasons": award.reasons,
    }
    missing = [name for name, text in grant.items() if not text]
    item = RegisterItem(
        f"grant:{contract.reference}",
        ItemKind.GRANT,
        contract.reference,
        None,
        contract.title,
        grant["recipient"],
        value,
        award.awarded_on,
        grant=grant,
    )
    if missing:
        item.extra["details_missing"] = missing
    return item


def _tender_items(session: Session, rules: RegisterRules, as_at: date) -> Iterator[RegisterItem]:
    varied = _values(session, as_at)
    tendering = col(Contract.status).in_(TENDERING_STATUSES) | col(Award.contract_id).is_not(None)
    rows = session.execute(
        core_select(col(Record.id), col(Record.title), col(Record.record_date), Contract)
        .join(Contract, col(Contract.id) == col(Record.contract_id))
        .join(Award, col(Award.contract_id) == col(Contract.id), isouter=True)
        .where(
            col(Record.record_type) == "invitation_to_tender",
            col(Record.record_date) <= as_at,
            tendering,
        )
        .order_by(col(Record.record_date), col(Record.id))
    )
    for rid, title, day, contract in rows:
        value = (contract.awarded_value_pence or 0) + varied.get(contract.id, 0)
        if value > rules.tender_over_pence:
            yield RegisterItem(
                f"tender:{rid}",
                ItemKind.TENDER,
                contract.reference,
                rid,
                title,
                None,
                value,
                day,
            )


def _decision_items(session: Session, rules: RegisterRules, as_at: date) -> Iterator[RegisterItem]:
    rows = session.execute(
        core_select(
            col(Record.id), col(Record.title), col(Record.record_date), col(Contract.reference)
        )
        .join(
            RecordTag,
            and_(
                col(RecordTag.record_id) == col(Record.id),
                col(RecordTag.tag) == rules.significant_decision_tag,
            ),
        )
        .join(Contract, col(Contract.id) == col(Record.contract_id), isouter=True)
        .where(col(Record.record_type) == "decision_record", col(Record.record_date) <= as_at)
        .order_by(col(Record.record_date), col(Record.id))
    )
    for rid, title, day, reference in rows:
        yield RegisterItem(
            f"decision:{rid}", ItemKind.DECISION, reference, rid, title, None, None, day
        )


def _apply_publications(
    session: Session, items: list[RegisterItem], rules: RegisterRules, as_at: date
) -> None:
    rows = session.execute(
        core_select(Publication, col(Record.status))
        .join(Record, col(Record.id) == col(Publication.copy_record_id), isouter=True)
        .where(col(Publication.published_on) <= as_at)
    )
    published = {row.item_key: (row, status) for row, status in rows}
    allowed = timedelta(days=rules.publish_within_days)
    for item in items:
        item.due_by = item.due_from + allowed
        found = published.get(item.key)
        if found is not None:
            row, status = found
            item.state, item.published_on, item.location = (
                "published",
                row.published_on,
                row.location,
            )
            item.copy_record_id = row.copy_record_id
            item.copy_held = status is not None and status not in DISPOSED_STATUSES
        elif as_at > item.due_by:
            item.state, item.days_overdue = "overdue", (as_at - item.due_by).days
