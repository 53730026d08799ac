"""Opening a new contract and changing one, from forms (money entered in pounds)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from records_service.bounds import MAX_PENCE, FormValue, Identifier
from records_service.contracts.models import Contract, ContractStatus
from records_service.contracts.schemas import ContractCreate, ContractUpdate
from records_service.contracts.service import create_contract, get_contract, update_contract
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.web.deps import SignedInContractManager
from records_service.web.pages._forms import date_parts, field_of, optional, read_date
from records_service.web.rendering import flash, redirect, render

router = APIRouter()
M = TypeVar("M", bound=BaseModel)

FIELDS = (
    "reference",
    "title",
    "provider",
    "funding_stream",
    "awarded_value",
    "start_date",
    "end_date",
    "closed_on",
    "status",
    "is_deed",
    "owner",
)
_MESSAGES = {
    "reference": "Enter a reference of 2 to 64 letters, digits, '/', '.', '_' or '-'",
    "title": "Enter a title",
    "start_date": "Enter a real date, for example 2024-04-01",
    "end_date": "Enter a real end date on or after the start date",
    "closed_on": "Enter a real date, for example 2027-03-31",
    "awarded_value": "Enter an amount in pounds, for example 12500 or 12,500.00",
    "status": "Choose a status",
}


# Longer than any amount up to MAX_PENCE could be written, with separators.
PENCE_TEXT_MAX = 40


class FormProblem(ValueError):
    """A form value that cannot be read; ``field`` names it, ``message`` says what to fix
    (else the field's usual message) and ``wrong`` which boxes of a date are wrong."""

    def __init__(self, field: str, message: str | None = None, wrong: tuple[str, ...] = ()) -> None:
        super().__init__(field)
        self.field = field
        self.message = message or _MESSAGES[field]
        self.wrong = wrong


def pence(text: str) -> int | None:
    """Pounds typed by a person (``£12,500.50``) as integer pence; ``None`` when blank."""
    cleaned = text.strip().replace(",", "").removeprefix("£").strip()
    if not cleaned:
        return None
    if len(cleaned) > PENCE_TEXT_MAX:
        raise FormProblem("awarded_value")
    try:
        value = Decimal(cleaned) * 100
    except InvalidOperation:
        raise FormProblem("awarded_value") from None
    # NaN and infinities are Decimals too, and NaN refuses to be compared.
    if not value.is_finite() or not 0 <= value <= MAX_PENCE:
        raise FormProblem("awarded_value")
    if value != value.to_integral_value():
        raise FormProblem("awarded_value")
    return int(value)


_DATE_LABELS = {"start_date": "Start date", "end_date": "End date", "closed_on": "Closed on"}


def _day(form: dict[str, str], name: str) -> Any:
    entry = read_date(form, name, _DATE_LABELS[name])
    if entry.error:
        raise FormProblem(name, entry.error, entry.wrong)
    return entry.day


class FormErrors(ValueError):
    """Every field of a form that cannot be accepted, with its message, and which boxes
    of a date field are wrong."""

    def __init__(self) -> None:
        super().__init__("form errors")
        self.errors: dict[str, str] = {}
        self.wrong: dict[str, tuple[str, ...]] = {}


def _read(found: FormErrors, reader: Callable[[], Any]) -> Any:
    """``reader()``, or ``None`` with its field's error noted, so every field is read."""
    try:
        return reader()
    except FormProblem as exc:
        found.errors.setdefault(exc.field, exc.message)
        if exc.wrong:
            found.wrong[exc.field] = exc.wrong
        return None


def _values(form: dict[str, str], found: FormErrors) -> dict[str, Any]:
    start = _read(found, lambda: _day(form, "start_date"))
    end = _read(found, lambda: _day(form, "end_date"))
    if start and end and end < start:
        found.errors.setdefault("end_date", _MESSAGES["end_date"])
    return {
        "title": form["title"].strip(),
        "provider": optional(form["provider"]),
        "funding_stream": optional(form["funding_stream"]),
        "awarded_value_pence": _read(found, lambda: pence(form["awarded_value"])),
        "start_date": start,
        "end_date": end,
        "closed_on": _read(found, lambda: _day(form, "closed_on")),
        "status": form["status"],
        "is_deed": form["is_deed"] == "yes",
        "owner": optional(form["owner"]),
    }


def _validated(model: type[M], values: dict[str, Any], found: FormErrors) -> M:
    """``values`` as ``model``; raises ``found`` with every field's error at once, those
    found while reading the form included."""
    try:
        data = model.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "end_date"
            name = "awarded_value" if name == "awarded_value_pence" else name
            found.errors.setdefault(name, _MESSAGES.get(name, str(error["msg"])))
    if found.errors:
        raise found
    return data


def _errors_of(exc: FormErrors | DomainError) -> dict[str, str]:
    if isinstance(exc, FormErrors):
        return exc.errors
    return {field_of(exc, "reference"): exc.detail[:1].upper() + exc.detail[1:]}


def _wrong_boxes(exc: FormErrors | DomainError) -> dict[str, tuple[str, ...]]:
    return exc.wrong if isinstance(exc, FormErrors) else {}


def _form_page(
    request: Request,
    user: Any,
    form: dict[str, str],
    errors: dict[str, str],
    *,
    editing: bool,
    wrong: dict[str, tuple[str, ...]] | None = None,
) -> Response:
    context = {
        "form": form,
        "errors": errors,
        "date_wrong": wrong or {},
        "editing": editing,
        "statuses": [s.value for s in ContractStatus],
    }
    status = 422 if errors else 200
    return render(request, "contract_form.html", context, user=user, status_code=status)


class ContractForm(BaseModel):
    """The contract form's fields, as typed."""

    reference: Identifier = ""
    title: FormValue = ""
    provider: FormValue = ""
    funding_stream: FormValue = ""
    awarded_value: FormValue = ""
    # A date is three boxes (day, month, year) or, from scripts, one YYYY-MM-DD value.
    start_date: FormValue = ""
    start_date_day: FormValue = ""
    start_date_month: FormValue = ""
    start_date_year: FormValue = ""
    end_date: FormValue = ""
    end_date_day: FormValue = ""
    end_date_month: FormValue = ""
    end_date_year: FormValue = ""
    closed_on: FormValue = ""
    closed_on_day: FormValue = ""
    closed_on_month: FormValue = ""
    closed_on_year: FormValue = ""
    status: FormValue = ContractStatus.PLANNED.value
    is_deed: FormValue = "no"
    owner: FormValue = ""


PostedForm = Annotated[ContractForm, Form()]


@router.get("/contracts/new")
def new_contract_form(request: Request, user: SignedInContractManager) -> Response:
    """The form to open a contract."""
    return _form_page(request, user, ContractForm().model_dump(), {}, editing=False)


@router.post("/contracts/new")
def new_contract(
    request: Request, services: ServicesDep, user: SignedInContractManager, posted: PostedForm
) -> Response:
    """Open the contract and go to its page."""
    form = posted.model_dump()
    found = FormErrors()
    try:
        values = _values(form, found) | {"reference": form["reference"].strip()}
        data = _validated(ContractCreate, values, found)
        with session_scope(services.engine) as session:
            create_contract(session, data=data, actor=user, clock=services.clock)
    except (FormErrors, DomainError) as exc:
        return _form_page(
            request, user, form, _errors_of(exc), editing=False, wrong=_wrong_boxes(exc)
        )
    flash(request, f"Contract {data.reference} opened.")
    return redirect(_contract_path(data.reference))


def _contract_path(reference: Identifier) -> str:
    return f"/contracts/{quote(reference, safe='/')}"


def _as_form(contract: Contract) -> dict[str, str]:
    value = contract.awarded_value_pence
    return {
        "reference": contract.reference,
        "title": contract.title,
        "provider": contract.provider or "",
        "funding_stream": contract.funding_stream or "",
        "awarded_value": "" if value is None else f"{Decimal(value) / 100:.2f}",
        **date_parts("start_date", contract.start_date),
        **date_parts("end_date", contract.end_date),
        **date_parts("closed_on", contract.closed_on),
        "status": contract.status,
        "is_deed": "yes" if contract.is_deed else "no",
        "owner": contract.owner or "",
    }


@router.get("/contracts/{reference:path}/edit")
def edit_contract_form(
    reference: Identifier, request: Request, session: ReadSessionDep, user: SignedInContractManager
) -> Response:
    """The form to change a contract, filled with its details."""
    form = _as_form(get_contract(session, reference))
    return _form_page(request, user, form, {}, editing=True)


@router.post("/contracts/{reference:path}/edit")
def edit_contract(
    reference: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInContractManager,
    posted: PostedForm,
) -> Response:
    """Apply the changes (each one audited with its old and new value)."""
    form = posted.model_dump() | {"reference": reference}
    found = FormErrors()
    try:
        data = _validated(ContractUpdate, _values(form, found), found)
        with session_scope(services.engine) as session:
            update_contract(
                session, reference=reference, data=data, actor=user, clock=services.clock
            )
    except (FormErrors, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status == 404:
            raise
        return _form_page(
            request, user, form, _errors_of(exc), editing=True, wrong=_wrong_boxes(exc)
        )
    flash(request, "Contract details updated.")
    return redirect(_contract_path(reference))
