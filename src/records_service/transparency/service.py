"""Reading the register as a user may see it, recording publications (audited),
exporting it as CSV and JSON, and the register's findings for the retention job.

Findings:

- ``publication_overdue``: an item not published ``publish_within_days`` after it
  became due;
- ``published_copy_missing``: a published item whose copy points at no record held
  (none was named, or the record named has been disposed of or transferred).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import true
from sqlmodel import Session, select

from records_service.audit.actions import AuditAction, PublicationPayload
from records_service.audit.log import record_event
from records_service.auth.models import User
from records_service.clock import Clock
from records_service.contracts.service import contract_id
from records_service.errors import Conflict, InvalidInput, NotFound
from records_service.finance.reconcile import pounds
from records_service.finance.service import Actor, actor_name
from records_service.pagination import PageParams
from records_service.records.models import Record
from records_service.records.service import get_record, visible_clause
from records_service.transparency.models import ItemKind, Publication
from records_service.transparency.register import (
    RegisterFilter,
    RegisterItem,
    RegisterRules,
    build_register,
    register_counts,
    register_page,
)
from records_service.transparency.schemas import PublicationIn

_KIND_WORDS = {
    ItemKind.CONTRACT: "contract over {threshold}",
    ItemKind.TENDER: "invitation to tender expected to exceed {threshold}",
    ItemKind.GRANT: "crime and disorder reduction grant",
    ItemKind.DECISION: "decision of significant public interest",
}


def seen_by(user: User | None, **wanted: Any) -> RegisterFilter:
    """The items ``user`` may see (all of them for no user: a command or the job), with
    the ``kind``, ``state`` or ``key`` filters given."""
    visible = true() if user is None else visible_clause(user)
    return RegisterFilter(visible=visible, **wanted)


def register_for(
    session: Session, rules: RegisterRules, as_at: date, user: User | None
) -> list[RegisterItem]:
    """The register as at ``as_at``; items about records ``user`` may not see are left out."""
    return build_register(session, rules, as_at, seen_by(user))


def register_page_for(
    session: Session,
    rules: RegisterRules,
    as_at: date,
    user: User,
    page: PageParams,
    *,
    kind: ItemKind | None = None,
    state: str | None = None,
) -> tuple[list[RegisterItem], int]:
    """One page of what ``user`` may see of the register, and how many items in all."""
    where = seen_by(user, kind=kind, state=state)
    return register_page(session, rules, as_at, where, offset=page.offset, limit=page.page_size)


def register_counts_for(
    session: Session, rules: RegisterRules, as_at: date, user: User, *, kind: ItemKind | None = None
) -> dict[str, int]:
    """How many items ``user`` may see are in each state (of ``kind``, if given)."""
    return register_counts(session, rules, as_at, seen_by(user, kind=kind))


def describe(item: RegisterItem, rules: RegisterRules) -> str:
    """What the item is, in words (for summaries and the page)."""
    threshold = pounds(
        rules.tender_over_pence if item.kind == ItemKind.TENDER else rules.contract_over_pence
    )
    return _KIND_WORDS[item.kind].format(threshold=threshold)


@dataclass(frozen=True)
class RegisterIssue:
    """A register finding before it meets the findings table."""

    kind: str
    key: str
    subject: str
    contract: str | None
    record_id: str | None
    summary: str
    details: dict[str, Any]


def _subject(item: RegisterItem) -> str:
    return f"record:{item.record_id}" if item.record_id else f"contract:{item.contract}"


def register_issues(items: list[RegisterItem], rules: RegisterRules) -> list[RegisterIssue]:
    """``publication_overdue`` and ``published_copy_missing`` findings of the register."""
    issues = []
    for item in items:
        if item.state == "overdue":
            issues.append(_overdue(item, rules))
        elif item.state == "published" and not item.copy_held:
            issues.append(_copy_missing(item, rules))
    return issues


def _issue(kind: str, item: RegisterItem, summary: str, details: dict[str, Any]) -> RegisterIssue:
    base = {"item": item.key, "kind": item.kind.value, "value_pence": item.value_pence}
    return RegisterIssue(
        kind,
        f"{kind}:{item.key}",
        _subject(item),
        item.contract,
        item.record_id,
        summary,
        base | details,
    )


def _overdue(item: RegisterItem, rules: RegisterRules) -> RegisterIssue:
    summary = (
        f"{item.title} ({describe(item, rules)}): not published; due within "
        f"{rules.publish_within_days} days of {item.due_from}, by {item.due_by}: "
        f"{item.days_overdue} days overdue"
    )
    details = {
        "due_from": str(item.due_from),
        "due_by": str(item.due_by),
        "days_overdue": item.days_overdue,
    }
    return _issue("publication_overdue", item, summary, details)


def _copy_missing(item: RegisterItem, rules: RegisterRules) -> RegisterIssue:
    copy = item.copy_record_id
    summary = (
        f"{item.title} ({describe(item, rules)}): published {item.published_on} at "
        f"{item.location}, but "
        + (f"its copy, record {copy}, is no longer held" if copy else "no copy is on file")
    )
    details = {
        "published_on": str(item.published_on),
        "location": item.location,
        "copy_record": copy,
    }
    return _issue("published_copy_missing", item, summary, details)


def record_publication(
    session: Session,
    data: PublicationIn,
    *,
    rules: RegisterRules,
    actor: Actor,
    clock: Clock,
) -> Publication:
    """Record that a register item was published, when and where (audited, once)."""
    item_key, published_on, location = data.item, data.published_on, data.location
    copy_record = data.copy_record
    item = _unpublished_item(session, rules, item_key, published_on, actor, clock().date())
    if copy_record is not None:
        _check_copy(session, item, copy_record, actor)
    row = Publication(
        item_key=item_key,
        kind=item.kind.value,
        contract_id=contract_id(session, item.contract) if item.contract else None,
        published_on=published_on,
        location=location,
        copy_record_id=copy_record,
        recorded_at=clock(),
        recorded_by=actor_name(actor),
    )
    session.add(row)
    session.flush()
    payload = PublicationPayload(
        item=item_key,
        kind=item.kind.value,
        published_on=published_on.isoformat(),
        location=location,
        copy_record=copy_record,
    )
    record_event(
        session,
        actor=actor_name(actor),
        action=AuditAction.TRANSPARENCY_PUBLISH,
        subject=_subject(item),
        payload=payload,
        clock=clock,
    )
    return row


def _unpublished_item(
    session: Session,
    rules: RegisterRules,
    item_key: str,
    published_on: date,
    actor: Actor,
    today: date,
) -> RegisterItem:
    """The register item ``item_key`` today, not yet recorded as published."""
    if published_on > today:
        raise InvalidInput(
            f"published_on: {published_on} is in the future",
            errors=[{"field": "published_on", "msg": "in the future"}],
        )
    where = seen_by(actor if isinstance(actor, User) else None, key=item_key)
    item = next(iter(build_register(session, rules, today, where)), None)
    if item is None:
        raise NotFound(f"the register has no item {item_key!r} to publish")
    taken = session.exec(select(Publication).where(Publication.item_key == item_key)).first()
    if taken is not None:
        raise Conflict(f"{item_key} was already recorded as published on {taken.published_on}")
    return item


def _check_copy(session: Session, item: RegisterItem, copy_record: str, actor: Actor) -> None:
    """The copy must be a record held, on the item's contract when it has one."""
    try:
        record = (
            get_record(session, copy_record, actor)
            if isinstance(actor, User)
            else session.get(Record, copy_record)
        )
    except NotFound:
        record = None
    problem = None
    if record is None:
        problem = f"copy_record: no record {copy_record}"
    elif item.contract is not None and record.contract_id != contract_id(session, item.contract):
        problem = f"copy_record: record {copy_record} is not on the file of {item.contract}"
    if problem is not None:
        raise InvalidInput(problem, errors=[{"field": "copy_record", "msg": problem}])


def item_dict(item: RegisterItem, rules: RegisterRules) -> dict[str, Any]:
    """One item in the shape a publication page uses (the JSON export's items)."""
    return {
        "item": item.key,
        "kind": item.kind.value,
        "description": describe(item, rules),
        "contract": item.contract,
        "record": item.record_id,
        "title": item.title,
        "counterparty": item.counterparty,
        "value_pence": item.value_pence,
        "value": pounds(item.value_pence) if item.value_pence is not None else None,
        "due_from": _day(item.due_from),
        "publish_by": _day(item.due_by),
        "state": item.state,
        "days_overdue": item.days_overdue,
        "published_on": _day(item.published_on),
        "location": item.location,
        "copy_record": item.copy_record_id,
        "copy_held": item.copy_held,
        "grant": item.grant,
    }


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def register_json(items: list[RegisterItem], rules: RegisterRules, as_at: date) -> str:
    """The register as JSON: the day it is as at, the rules, and every item."""
    body = {
        "as_at": as_at.isoformat(),
        "order": "Elected Local Policing Bodies (Specified Information) Order 2011",
        "rules": rules.to_dict(),
        "items": [item_dict(item, rules) for item in items],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "as_at",
    "item",
    "kind",
    "description",
    "contract",
    "record",
    "title",
    "counterparty",
    "value_pence",
    "value",
    "due_from",
    "publish_by",
    "state",
    "days_overdue",
    "published_on",
    "location",
    "copy_record",
    "copy_held",
    "grant_recipient",
    "grant_purpose",
    "grant_conditions",
    "grant_reasons",
)


def register_csv(items: list[RegisterItem], rules: RegisterRules, as_at: date) -> str:
    """The register as CSV, one item a row, each row carrying the ``as_at`` day."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        data = item_dict(item, rules)
        grant = item.grant or {}
        row = [as_at.isoformat(), *(data[name] for name in CSV_COLUMNS[1:18])]
        row += [grant.get(name) for name in ("recipient", "purpose", "conditions", "reasons")]
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    # A spreadsheet runs a cell starting with these as a formula (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
