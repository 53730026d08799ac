"""Checking an upload before any file is captured: the batch's fields and each file's.

Each file may carry its own title, record type and record date; a blank one takes the
batch's value (the title falls back to the file's name). Every field of every file is
checked before the first file is captured, so a refused upload captures nothing. The
same check answers the upload page's script (``POST /upload/check``) before it sends a
byte of any file, which is how the page keeps the chosen files when a field is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from records_service.bounds import check_text, normalise_tags
from records_service.contracts.service import contract_id
from records_service.errors import DomainError, InvalidInput
from records_service.records.capture import check_record_date
from records_service.records.models import Classification
from records_service.runtime.services import Services
from records_service.web.pages._forms import optional, read_day, title_from_filename

BAD_DATE = "Enter a real date, for example 2024-03-31"


@dataclass(frozen=True)
class UploadFields:
    """The upload form's values as sent: the batch's, then one list entry per file."""

    contract: str = ""
    record_type: str = ""
    record_date: str = ""
    tags: str = ""
    classification: str = "OFFICIAL"
    originator: str = ""
    names: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)

    def batch(self) -> dict[str, str]:
        """The batch's fields by name, as the form shows them again."""
        return {
            "contract": self.contract,
            "record_type": self.record_type,
            "record_date": self.record_date,
            "tags": self.tags,
            "classification": self.classification,
            "originator": self.originator,
        }


@dataclass(frozen=True)
class FilePlan:
    """What one file will be captured as."""

    filename: str
    title: str
    record_type: str
    record_date: date | None


@dataclass
class UploadPlan:
    """The checked upload: shared metadata, one plan per file, and errors by field id."""

    shared: dict[str, Any]
    files: list[FilePlan]
    errors: dict[str, str]


def _per_file(values: list[str], count: int) -> list[str]:
    """One value per file; a list that does not match the files is ignored."""
    cleaned = [v.strip() for v in values]
    if len(cleaned) != count:
        cleaned = cleaned[:1] if count == 1 else []
    return cleaned + [""] * (count - len(cleaned))


def check_day(text: str, today: date) -> tuple[date | None, str | None]:
    """A record date from a form: (the day, None) or (None, why it is refused)."""
    try:
        day = read_day(text)  # check_record_date bounds it
        if day is None:
            return None, "Enter the date the document bears"
        check_record_date(day, today)
    except ValueError:
        return None, BAD_DATE
    except InvalidInput as exc:
        return None, exc.detail[:1].upper() + exc.detail[1:]
    return day, None


def _check_contract(session: Session, text: str, errors: dict[str, str]) -> str | None:
    reference = optional(text)
    if reference is None:
        return None
    try:
        check_text(reference)
    except ValueError:
        errors["contract"] = "Choose a contract from the list"
        return reference
    try:
        contract_id(session, reference)
    except DomainError:
        errors["contract"] = f"There is no contract {reference}; choose one from the list"
    return reference


def _check_batch(
    session: Session, services: Services, fields: UploadFields, errors: dict[str, str]
) -> dict[str, Any]:
    """The fields every file shares (contract, tags, classification, originator)."""
    clean: dict[str, Any] = {"contract": _check_contract(session, fields.contract, errors)}
    try:
        clean["tags"] = normalise_tags([fields.tags])
    except ValueError as exc:
        errors["tags"] = str(exc)
    if fields.classification not in {c.value for c in Classification}:
        errors["classification"] = "Choose a classification"
    clean["classification"] = fields.classification
    clean["originator"] = optional(fields.originator)
    if fields.record_type and fields.record_type not in services.record_types:
        errors["record_type"] = "Choose a record type"
    if fields.record_date.strip():
        _, problem = check_day(fields.record_date, services.clock().date())
        if problem:
            errors["record_date"] = problem
    return clean


def _plan_file(
    services: Services, fields: UploadFields, index: int, own: tuple[str, str, str], single: bool
) -> tuple[FilePlan, dict[str, str]]:
    """One file's title, type and date (its own, else the batch's), and their errors.

    A bad value the file took from the batch is reported once, on the batch's field;
    with per-file boxes (``single`` false) a missing value is asked for on the file's.
    """
    name = fields.names[index]
    title, own_type, own_date = own
    errors: dict[str, str] = {}
    record_type = own_type or fields.record_type
    if not record_type:
        key = "record_type" if single else f"record_type-{index}"
        errors[key] = "Choose a record type" + ("" if single else f" for {name}")
    elif own_type and own_type not in services.record_types:
        errors[f"record_type-{index}"] = "Choose a record type from the list"
    day, problem = check_day(own_date or fields.record_date, services.clock().date())
    if problem and (own_date or single):
        errors["record_date" if single else f"record_date-{index}"] = problem
    elif problem and not fields.record_date.strip():
        errors[f"record_date-{index}"] = f"Enter the date {name} bears"
    plan = FilePlan(name, title or title_from_filename(name), record_type, day)
    return plan, errors


def plan_upload(session: Session, services: Services, fields: UploadFields) -> UploadPlan:
    """Check the whole upload, every file included, before anything is captured."""
    errors: dict[str, str] = {}
    shared = _check_batch(session, services, fields, errors)
    count = len(fields.names)
    if not count:
        errors["files"] = "Choose at least one file to upload"
    # Without script the form has no per-file boxes: the batch's fields are the file's.
    single = count == 1 and len(fields.types) != 1 and len(fields.dates) != 1
    own = zip(
        _per_file(fields.titles, count),
        _per_file(fields.types, count),
        _per_file(fields.dates, count),
        strict=True,
    )
    plans: list[FilePlan] = []
    for index, values in enumerate(own):
        plan, problems = _plan_file(services, fields, index, values, single)
        plans.append(plan)
        for key, message in problems.items():
            errors.setdefault(key, message)
    return UploadPlan(shared=shared, files=plans, errors=errors)
