"""The records list: filters (shown as removable chips), sortable columns, and changes
to the ticked records at once (add tags, move to a contract, place a hold).

Bulk changes go through the domain functions the API uses (``records.bulk`` and
``retention.holds``), so each record gets its own audit entry; a batch that cannot be
applied in full is refused whole, and the page comes back with the ticks and the
typed values kept.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.bounds import (
    MAX_BULK_RECORDS,
    FormReason,
    FormTags,
    FormText,
    Identifier,
    PageNumber,
)
from records_service.db import read_scope, session_scope
from records_service.errors import DomainError, PermissionDenied
from records_service.pagination import PageParams, parse_sort
from records_service.records.bulk import BulkEdit, bulk_edit
from records_service.records.models import Classification
from records_service.records.service import (
    DEFAULT_RECORD_SORT,
    RECORD_SORTS,
    RecordFilters,
    list_records,
)
from records_service.retention.holds import place_record_holds
from records_service.retention.schemas import RecordHoldsCreate
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.runtime.services import Services
from records_service.web.deps import SignedInEditor, SignedInUser
from records_service.web.pages._forms import (
    DATE_PARTS,
    date_parts,
    known_classification,
    read_date,
)
from records_service.web.pages._listing import Chip, chip_without, filter_chips, sort_headings
from records_service.web.pages._rows import record_rows, type_choices
from records_service.web.pages.records import PAGE_SIZE, page_links
from records_service.web.pages.upload import contract_choices
from records_service.web.rendering import flash, redirect, render

router = APIRouter()

COLUMNS = {
    "title": "Title",
    "type": "Type",
    "contract": "Contract",
    "record_date": "Record date",
    "captured": "Captured",
}
FILTERS = {
    "contract": "Contract",
    "record_type": "Record type",
    "tag": "Tag",
    "classification": "Classification",
}
DATES = {"date_from": "Dated from", "date_to": "Dated to"}
BULK_FIELDS = ("action", "bulk_tags", "bulk_contract", "bulk_reference", "bulk_reason")


class RecordQuery(BaseModel):
    """The list's filters, sort and page, as the address gives them."""

    contract: Identifier = ""
    record_type: Identifier = ""
    tag: Identifier = ""
    classification: Identifier = ""
    date_from: Identifier = ""
    date_from_day: Identifier = ""
    date_from_month: Identifier = ""
    date_from_year: Identifier = ""
    date_to: Identifier = ""
    date_to_day: Identifier = ""
    date_to_month: Identifier = ""
    date_to_year: Identifier = ""
    sort: Identifier = ""
    page: PageNumber = 1

    def given(self) -> dict[str, str]:
        """The parameters given, as text (for links that keep them)."""
        values = self.model_dump(exclude_defaults=True)
        return {key: str(value) for key, value in values.items()}


@router.get("/records")
def record_list(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInUser,
    contract: Identifier = "",
    record_type: Identifier = "",
    tag: Identifier = "",
    classification: Identifier = "",
    date_from: Identifier = "",
    date_from_day: Identifier = "",
    date_from_month: Identifier = "",
    date_from_year: Identifier = "",
    date_to: Identifier = "",
    date_to_day: Identifier = "",
    date_to_month: Identifier = "",
    date_to_year: Identifier = "",
    sort: Identifier = "",
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """The records this user may see, filtered, newest record date first unless
    ``sort`` names a column (``-`` before it for descending)."""
    # Each filter is declared above, so each is bounded (and probed by the bounds tests).
    values = {k: v for k, v in locals().items() if k in RecordQuery.model_fields}
    return _list_page(request, session, services, user, RecordQuery.model_validate(values))


def _list_page(
    request: Request,
    session: Session,
    services: Services,
    user: User,
    query: RecordQuery,
    bulk: dict[str, Any] | None = None,
) -> Response:
    order = parse_sort(query.sort, RECORD_SORTS, DEFAULT_RECORD_SORT.text)
    params = query.given()
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    days = {}
    for name, label in DATES.items():
        entry = read_date(params, name, label)
        days[name] = entry.day
        if entry.error:
            errors[name], wrong[name] = entry.error, entry.wrong
    filters = _record_filters(query, days)
    rows, total = list_records(
        session,
        filters=filters,
        page=PageParams(page=query.page, page_size=PAGE_SIZE),
        user=user,
        sort=order,
    )
    types = type_choices(services.schedule)
    picked = (bulk or {}).get("picked", [])
    context = {
        "rows": record_rows(session, rows, services.schedule),
        "filters": params,
        "form": {**_date_boxes(params, days), **params, **(bulk or {}).get("form", {})},
        "record_types": types,
        "classifications": [c.value for c in Classification],
        "pages": page_links(query.page, PAGE_SIZE, total, params),
        "errors": {**errors, **(bulk or {}).get("errors", {})},
        "date_wrong": wrong,
        "headings": sort_headings("/records", params, order, COLUMNS),
        "chips": _chips(params, days, dict(types)),
        "contracts": contract_choices(session),
        "picked": set(picked),
        "back": request.url.query if bulk is None else bulk["back"],
    }
    status = 422 if context["errors"] else 200
    return render(request, "records.html", context, user=user, status_code=status)


def _record_filters(query: RecordQuery, days: dict[str, Any]) -> RecordFilters:
    return RecordFilters(
        contract=query.contract.strip() or None,
        record_type=query.record_type or None,
        tag=query.tag.strip().lower() or None,
        classification=known_classification(query.classification),
        date_from=days["date_from"],
        date_to=days["date_to"],
    )


def _date_boxes(params: dict[str, str], days: dict[str, Any]) -> dict[str, str]:
    """The three boxes of a date given as one ``YYYY-MM-DD`` value (a link), filled."""
    boxes: dict[str, str] = {}
    for name, day in days.items():
        if day is not None and name in params:
            boxes |= date_parts(name, day)
    return boxes


def _chips(params: dict[str, str], days: dict[str, Any], types: dict[str, str]) -> list[Chip]:
    chips = filter_chips("/records", params, FILTERS, {"record_type": types})
    for name, label in DATES.items():
        day = days[name]
        if day is not None:
            drop = (name, *(f"{name}_{part}" for part in DATE_PARTS))
            chips.append(chip_without("/records", params, drop, f"{label}: {day:%-d %B %Y}"))
    return chips


class BulkForm(BaseModel):
    """The bulk-change fields under the records list, as typed."""

    record_ids: Annotated[list[Identifier], Field(max_length=MAX_BULK_RECORDS)] = []
    action: FormText = ""
    bulk_tags: FormTags = ""
    bulk_contract: FormText = ""
    bulk_reference: FormText = ""
    bulk_reason: FormReason = ""
    back: FormText = ""


@router.post("/records/bulk")
def bulk_change(
    request: Request,
    services: ServicesDep,
    user: SignedInEditor,
    posted: Annotated[BulkForm, Form()],
) -> Response:
    """Apply one change to every ticked record; each record's change is audited."""
    if posted.action == "hold" and not allows(user.role_set, Permission.MANAGE_RETENTION):
        raise PermissionDenied("placing holds needs the records manager role")
    try:
        done = _apply(services, user, posted)
    except (ValidationError, DomainError) as exc:
        return _refused(request, services, user, posted, _bulk_error(exc))
    flash(request, done)
    return redirect(f"/records?{posted.back}" if posted.back else "/records")


def _apply(services: Services, user: User, posted: BulkForm) -> str:
    """Carry out the change and say what was done; refusals are raised."""
    if not posted.record_ids:
        raise BulkFormProblem("Tick the records to change")
    reason = posted.bulk_reason.strip()
    if posted.action == "hold":
        holds = RecordHoldsCreate(
            record_ids=posted.record_ids, reference=posted.bulk_reference.strip(), reason=reason
        )
        placed = place_record_holds(services.hold_context(), request=holds, actor=user)
        return f"Hold {holds.reference} placed on {_records(len(placed))}."
    if posted.action not in ("tag", "move"):
        raise BulkFormProblem("Choose what to do with the ticked records")
    edit = BulkEdit(
        record_ids=posted.record_ids,
        action=posted.action,
        tags=[posted.bulk_tags],
        contract=posted.bulk_contract.strip() or None,
        reason=reason,
    )
    with session_scope(services.engine) as session:
        outcome = bulk_edit(
            session,
            request=edit,
            actor=user,
            record_types=services.record_types,
            clock=services.clock,
        )
    services.notify_worker()
    what = "Tags added to" if edit.action == "tag" else f"Moved to {edit.contract}:"
    done = f"{what} {_records(len(outcome.changed))}."
    if outcome.unchanged:
        done += f" {_records(len(outcome.unchanged)).capitalize()} already had it."
    return done


class BulkFormProblem(DomainError):
    """A bulk form that cannot be acted on as filled in (shown beside the form)."""

    status = 422


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


_BULK_MESSAGES = {
    "bulk_reason": "Say why you are making this change (at least 3 characters)",
    "reason": "Say why you are making this change (at least 3 characters)",
    "reference": "Enter the case reference for the hold, for example FOI-2026-0142",
    "record_ids": "Tick at most 200 records at a time",
}
_FIELDS = {"reason": "bulk_reason", "reference": "bulk_reference", "tags": "bulk_tags"}


def _bulk_error(exc: ValidationError | DomainError) -> dict[str, str]:
    if isinstance(exc, DomainError):
        return {"bulk": exc.detail[:1].upper() + exc.detail[1:]}
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "bulk"
        message = _BULK_MESSAGES.get(name) or str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(_FIELDS.get(name, "bulk"), message[:1].upper() + message[1:])
    return errors


def _refused(
    request: Request, services: Services, user: User, posted: BulkForm, errors: dict[str, str]
) -> Response:
    try:
        query = RecordQuery.model_validate(dict(parse_qsl(posted.back)))
    except ValidationError:
        query = RecordQuery()
    form = {name: getattr(posted, name) for name in BULK_FIELDS}
    bulk = {"picked": posted.record_ids, "form": form, "errors": errors, "back": posted.back}
    with read_scope(services.engine) as session:
        return _list_page(request, session, services, user, query, bulk)
