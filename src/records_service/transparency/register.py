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

The register is one SQL query (:func:`register_query`): a row per item, the three
kinds of item in one ``UNION ALL`` with the same columns, joined to its publication
and with its state worked out in SQL, so a page of it, filtered by kind or state, is
read with ``LIMIT``/``OFFSET`` and counted by the database, whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    true,
    union_all,
)
from sqlalchemy import select as core_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from records_service.contracts.models import Contract
from records_service.finance.models import Award, AwardKind, Variation
from records_service.records.models import DISPOSED_STATUSES, Record, RecordTag
from records_service.transparency.models import ItemKind, Publication

AWARDED_STATUSES = ("awarded", "active", "closed", "terminated")
TENDERING_STATUSES = ("planned", "tendering")
STATES = ("overdue", "due", "published")


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


@dataclass(frozen=True)
class RegisterFilter:
    """Which items to read: those about records the reader may see (``visible``, an SQL
    condition on ``records``), of one kind, in one state, or the one with ``key``."""

    visible: ColumnElement[bool] = field(default_factory=true)
    kind: ItemKind | None = None
    state: str | None = None
    key: str | None = None


def build_register(
    session: Session, rules: RegisterRules, as_at: date, where: RegisterFilter | None = None
) -> list[RegisterItem]:
    """Every item that must be published as at ``as_at``, with its publication, in the
    order they became due (then by key)."""
    query = register_query(session, rules, as_at, where or RegisterFilter())
    return [_item(row, rules, as_at) for row in session.execute(query)]


def register_page(
    session: Session,
    rules: RegisterRules,
    as_at: date,
    where: RegisterFilter,
    *,
    offset: int,
    limit: int,
) -> tuple[list[RegisterItem], int]:
    """One page of the register (in the order of :func:`build_register`) and how many
    items there are in all, both read by the database."""
    query = register_query(session, rules, as_at, where)
    total = session.execute(
        core_select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    rows = session.execute(query.offset(offset).limit(limit))
    return [_item(row, rules, as_at) for row in rows], int(total)


def register_counts(
    session: Session, rules: RegisterRules, as_at: date, where: RegisterFilter
) -> dict[str, int]:
    """How many items are in each state (``overdue``, ``due``, ``published``; none is
    0), of those ``where`` selects whatever its ``state``, counted by the database."""
    query = register_query(session, rules, as_at, replace(where, state=None))
    rows = query.order_by(None).subquery()
    counted = core_select(rows.c.state, func.count()).group_by(rows.c.state)
    counts = dict.fromkeys(STATES, 0)
    for state, number in session.execute(counted):
        counts[state] = int(number)
    return counts


def register_query(
    session: Session, rules: RegisterRules, as_at: date, where: RegisterFilter
) -> Select[Any]:
    """The register's items as rows, with their publication and state, in order."""
    items = union_all(
        _contract_rows(rules, as_at),
        _tender_rows(rules, as_at, where.visible),
        _decision_rows(rules, as_at, where.visible),
    ).subquery("items")
    copy = aliased(Record)
    late = as_at - timedelta(days=rules.publish_within_days)
    state = case(
        (col(Publication.id).is_not(None), "published"),
        (items.c.due_from < late, "overdue"),
        else_="due",
    ).label("state")
    query = (
        core_select(items, Publication, col(copy.status).label("copy_status"), state)
        .select_from(items)
        .outerjoin(
            Publication,
            and_(col(Publication.item_key) == items.c.key, col(Publication.published_on) <= as_at),
        )
        .outerjoin(copy, col(copy.id) == col(Publication.copy_record_id))
    )
    wanted_by = ((where.kind, items.c.kind), (where.state, state), (where.key, items.c.key))
    for wanted, column in wanted_by:
        if wanted is not None:
            query = query.where(column == str(wanted))
    key: ColumnElement[Any] = items.c.key
    # Keys in code-point order on every database (PostgreSQL's default collation is
    # the locale's, which ignores punctuation; SQLite's is already binary).
    if session.get_bind().dialect.name == "postgresql":
        key = key.collate("C")
    return query.order_by(items.c.due_from, key)


def _varied(as_at: date) -> Any:
    """Each contract's variations decided by ``as_at``, as a subquery."""
    return (
        core_select(
            col(Variation.contract_id).label("contract_id"),
            func.sum(col(Variation.change_pence)).label("change"),
        )
        .where(col(Variation.decided_on) <= as_at)
        .group_by(col(Variation.contract_id))
        .subquery("varied")
    )


def _no_text() -> ColumnElement[Any]:
    return cast(null(), String)


def _contract_rows(rules: RegisterRules, as_at: date) -> Select[Any]:
    """Contracts over the threshold and crime and disorder grants, once awarded."""
    varied = _varied(as_at)
    value = func.coalesce(col(Contract.awarded_value_pence), 0) + func.coalesce(varied.c.change, 0)
    grant = col(Award.kind) == AwardKind.CRIME_AND_DISORDER_GRANT.value
    contract = (col(Award.kind) == AwardKind.CONTRACT.value) & (value > rules.contract_over_pence)
    reference = col(Contract.reference)
    recipient = func.coalesce(func.nullif(col(Award.recipient), ""), col(Contract.provider))
    return (
        core_select(
            case(
                (grant, literal("grant:") + reference), else_=literal("contract:") + reference
            ).label("key"),
            case((grant, ItemKind.GRANT.value), else_=ItemKind.CONTRACT.value).label("kind"),
            reference.label("contract"),
            _no_text().label("record_id"),
            col(Contract.title).label("title"),
            case((grant, recipient), else_=col(Contract.provider)).label("counterparty"),
            value.label("value_pence"),
            col(Award.awarded_on).label("due_from"),
            case((grant, col(Award.purpose)), else_=_no_text()).label("purpose"),
            case((grant, col(Award.conditions)), else_=_no_text()).label("conditions"),
            case((grant, col(Award.reasons)), else_=_no_text()).label("reasons"),
        )
        .select_from(Contract)
        .join(Award, col(Award.contract_id) == col(Contract.id))
        .outerjoin(varied, varied.c.contract_id == col(Contract.id))
        .where(
            col(Contract.status).in_(AWARDED_STATUSES),
            col(Award.awarded_on) <= as_at,
            grant | contract,
        )
    )


def _tender_rows(rules: RegisterRules, as_at: date, visible: ColumnElement[bool]) -> Select[Any]:
    """Invitations to tender on the files of contracts expected to exceed the threshold."""
    varied = _varied(as_at)
    value = func.coalesce(col(Contract.awarded_value_pence), 0) + func.coalesce(varied.c.change, 0)
    tendering = col(Contract.status).in_(TENDERING_STATUSES) | col(Award.contract_id).is_not(None)
    return (
        core_select(
            (literal("tender:") + col(Record.id)).label("key"),
            literal(ItemKind.TENDER.value).label("kind"),
            col(Contract.reference).label("contract"),
            col(Record.id).label("record_id"),
            col(Record.title).label("title"),
            _no_text().label("counterparty"),
            value.label("value_pence"),
            col(Record.record_date).label("due_from"),
            *[_no_text().label(name) for name in ("purpose", "conditions", "reasons")],
        )
        .select_from(Record)
        .join(Contract, col(Contract.id) == col(Record.contract_id))
        .outerjoin(Award, col(Award.contract_id) == col(Contract.id))
        .outerjoin(varied, varied.c.contract_id == col(Contract.id))
        .where(
            col(Record.record_type) == "invitation_to_tender",
            col(Record.record_date) <= as_at,
            tendering,
            value > rules.tender_over_pence,
            visible,
        )
    )


def _decision_rows(rules: RegisterRules, as_at: date, visible: ColumnElement[bool]) -> Select[Any]:
    """Decision records tagged as of significant public interest."""
    tagged = and_(
        col(RecordTag.record_id) == col(Record.id),
        col(RecordTag.tag) == rules.significant_decision_tag,
    )
    return (
        core_select(
            (literal("decision:") + col(Record.id)).label("key"),
            literal(ItemKind.DECISION.value).label("kind"),
            col(Contract.reference).label("contract"),
            col(Record.id).label("record_id"),
            col(Record.title).label("title"),
            _no_text().label("counterparty"),
            cast(null(), BigInteger).label("value_pence"),
            col(Record.record_date).label("due_from"),
            *[_no_text().label(name) for name in ("purpose", "conditions", "reasons")],
        )
        .select_from(Record)
        .join(RecordTag, tagged)
        .outerjoin(Contract, col(Contract.id) == col(Record.contract_id))
        .where(
            col(Record.record_type) == "decision_record",
            col(Record.record_date) <= as_at,
            visible,
        )
    )


def _item(row: Row[Any], rules: RegisterRules, as_at: date) -> RegisterItem:
    """A register item from its row of :func:`register_query`."""
    kind = ItemKind(row.kind)
    value = None if row.value_pence is None else int(row.value_pence)
    item = RegisterItem(
        row.key,
        kind,
        row.contract,
        row.record_id,
        row.title,
        row.counterparty,
        value,
        row.due_from,
        due_by=row.due_from + timedelta(days=rules.publish_within_days),
        state=row.state,
    )
    if kind == ItemKind.GRANT:
        _grant_details(item, row)
    publication: Publication | None = row.Publication
    if publication is not None:
        item.published_on, item.location = publication.published_on, publication.location
        item.copy_record_id = publication.copy_record_id
        status = row.copy_status
        item.copy_held = status is not None and status not in DISPOSED_STATUSES
    elif item.state == "overdue" and item.due_by is not None:
        item.days_overdue = (as_at - item.due_by).days
    return item


def _grant_details(item: RegisterItem, row: Row[Any]) -> None:
    """What the Order publishes of a grant, and which of it is not recorded."""
    item.grant = {
        "recipient": row.counterparty,
        "purpose": row.purpose,
        "conditions": row.conditions,
        "reasons": row.reasons,
    }
    missing = [name for name, text in item.grant.items() if not text]
    if missing:
        item.extra["details_missing"] = missing
