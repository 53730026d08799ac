"""Checking an upload before any file is captured: the batch's fields and each file's.

Each file may carry its own title, record type and record date; a blank one takes the
batch's value (the title falls back to the file's name). Dates are typed as GOV.UK's
day, month and year boxes (``_forms.read_date``): the batch's ``record_date_day`` and
so on, each file's as one entry of ``file_dates_day`` and so on. Every field of every
file is checked before the first file is captured, so a refused upload captures
nothing. The same check answers the upload page's script (``POST /upload/check``)
before it sends a byte of any file, which is how the page keeps the chosen files when
a field is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from records_service.bounds import FormValue, check_text, normalise_tags
from records_service.contracts.service import contract_id
from records_service.errors import DomainError, InvalidInput
from records_service.records.capture import check_record_date
from records_service.records.models import Classification
from records_service.runtime.services import Services
from records_service.web.pages._forms import (
    DATE_PARTS,
    DateEntry,
    FormErrors,
    optional,
    read_date,
    title_from_filename,
)


@dataclass(frozen=True)
class DateBoxes:
    """A date as typed in three boxes, or as ``YYYY-MM-DD`` (``iso``) with the boxes blank."""

    day: str = ""
    month: str = ""
    year: str = ""
    iso: str = ""

    def given(self) -> bool:
        """Whether anything was typed at all (blank takes the batch's date)."""
        return any(v.strip() for v in (self.day, self.month, self.year, self.iso))

    def form(self, name: str) -> dict[str, str]:
        """The boxes by form field name, as ``read_date`` and the form read them."""
        parts = dict(zip(DATE_PARTS, (self.day, self.month, self.year), strict=True))
        return {name: self.iso} | {f"{name}_{part}": text for part, text in parts.items()}


class UploadForm(BaseModel):
    """The upload form's fields as sent (``Annotated[UploadForm, Form()]``), each
    bounded in size: the batch's, then one list entry per file (each file's date as one
    entry in each of ``file_dates_day``, ``_month`` and ``_year``). ``names`` are the
    files' names: ``POST /upload/check`` is sent them instead of the files."""

    contract: FormValue = ""
    record_type: FormValue = ""
    record_date: FormValue = ""
    record_date_day: FormValue = ""
    record_date_month: FormValue = ""
    record_date_year: FormValue = ""
    tags: FormValue = ""
    classification: FormValue = "OFFICIAL"
    originator: FormValue = ""
    names: list[FormValue] = []
    titles: list[FormValue] = []
    file_types: list[FormValue] = []
    file_dates: list[FormValue] = []
    file_dates_day: list[FormValue] = []
    file_dates_month: list[FormValue] = []
    file_dates_year: list[FormValue] = []
    # A monitoring return's spend (``_return_spend.py``).
    spend_period_start: FormValue = ""
    spend_period_start_day: FormValue = ""
    spend_period_start_month: FormValue = ""
    spend_period_start_year: FormValue = ""
    spend_period_end: FormValue = ""
    spend_period_end_day: FormValue = ""
    spend_period_end_month: FormValue = ""
    spend_period_end_year: FormValue = ""
    spent: FormValue = ""
    spend_outcomes: FormValue = ""

    def spend_period(self) -> tuple[DateBoxes, DateBoxes]:
        """The first and last days of a monitoring return's spend period, as typed."""
        start = (self.spend_period_start_day, self.spend_period_start_month)
        end = (self.spend_period_end_day, self.spend_period_end_month)
        return (
            DateBoxes(*start, self.spend_period_start_year, self.spend_period_start),
            DateBoxes(*end, self.spend_period_end_year, self.spend_period_end),
        )

    def batch_date(self) -> DateBoxes:
        """The batch's record date as typed."""
        boxes = (self.record_date_day, self.record_date_month, self.record_date_year)
        return DateBoxes(*boxes, self.record_date)

    def batch(self) -> dict[str, str]:
        """The batch's fields by name, as the form shows them again."""
        return {
            "contract": self.contract,
            "record_type": self.record_type,
            **self.batch_date().form("record_date"),
            "tags": self.tags,
            "classification": self.classification,
            "originator": self.originator,
        }

    def own_dates(self) -> list[DateBoxes]:
        """Each file's own date boxes (blank where a file has none)."""
        count = len(self.names)
        columns = (self.file_dates_day, self.file_dates_month, self.file_dates_year)
        day, month, year, iso = (_per_file(c, count) for c in (*columns, self.file_dates))
        return [DateBoxes(*boxes) for boxes in zip(day, month, year, iso, strict=True)]

    def single(self) -> bool:
        """Whether this is one file without boxes of its own: without script the form
        has none, and the batch's fields are the file's."""
        columns = (
            self.file_types,
            self.file_dates,
            self.file_dates_day,
            self.file_dates_month,
            self.file_dates_year,
        )
        return len(self.names) == 1 and all(len(column) != 1 for column in columns)


@dataclass(frozen=True)
class FilePlan:
    """What one file will be captured as."""

    filename: str
    title: str
    record_type: str
    record_date: date | None


@dataclass
class UploadPlan(FormErrors):
    """The checked upload: shared metadata, one plan per file, and errors (with the date
    boxes to correct) by field id."""

    shared: dict[str, Any] = field(default_factory=dict)
    files: list[FilePlan] = field(default_factory=list)


def _per_file(values: Sequence[str], count: int) -> list[str]:
    """One value per file; a list that does not match the files is ignored."""
    cleaned = [v.strip() for v in values]
    if len(cleaned) != count:
        cleaned = cleaned[:1] if count == 1 else []
    return cleaned + [""] * (count - len(cleaned))


def check_day(boxes: DateBoxes, label: str, today: date) -> DateEntry:
    """A record date from its boxes: the day, or why it is refused and which boxes."""
    entry = read_date(boxes.form("date"), "date", label)
    if entry.error:
        return entry
    if entry.day is None:
        return DateEntry(error="Enter the date the document bears")
    try:
        check_record_date(entry.day, today)
    except InvalidInput as exc:
        return DateEntry(error=exc.detail[:1].upper() + exc.detail[1:], wrong=DATE_PARTS)
    return entry


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
    session: Session, services: Services, fields: UploadForm, plan: UploadPlan
) -> DateEntry:
    """The fields every file shares (contract, tags, classification, originator), and
    the batch's record date, read once for every file without a date of its own."""
    errors = plan.errors
    clean = plan.shared
    clean["contract"] = _check_contract(session, fields.contract, errors)
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
    batch_date = check_day(fields.batch_date(), "Record date", services.clock().date())
    if batch_date.error and fields.batch_date().given():
        plan.note("record_date", batch_date.error, batch_date.wrong)
    return batch_date


def _plan_file(
    services: Services,
    fields: UploadForm,
    index: int,
    own: tuple[str, str, DateBoxes],
    plan: UploadPlan,
    batch_date: DateEntry,
) -> FilePlan:
    """One file's title, type and date (its own, else the batch's, ``batch_date``), its
    errors noted.

    A bad value the file took from the batch is reported once, on the batch's field;
    with per-file boxes a missing value is asked for on the file's.
    """
    name = fields.names[index]
    title, own_type, own_date = own
    single = fields.single()
    record_type = own_type or fields.record_type
    if not record_type:
        key = "record_type" if single else f"record_type-{index}"
        plan.note(key, "Choose a record type" + ("" if single else f" for {name}"))
    elif own_type and own_type not in services.record_types:
        plan.note(f"record_type-{index}", "Choose a record type from the list")
    key = "record_date" if single else f"record_date-{index}"
    label = "Record date" if single else f"Record date for {name}"
    # Without a date of its own, the file has the batch's, read once for the batch (a
    # single file's label is the batch's own, "Record date").
    today = services.clock().date()
    entry = check_day(own_date, label, today) if own_date.given() else batch_date
    if entry.error and (own_date.given() or single):
        plan.note(key, entry.error, entry.wrong)
    elif entry.error and not fields.batch_date().given():
        plan.note(key, f"Enter the date {name} bears")
    return FilePlan(name, title or title_from_filename(name), record_type, entry.day)


def plan_upload(session: Session, services: Services, fields: UploadForm) -> UploadPlan:
    """Check the whole upload, every file included, before anything is captured."""
    plan = UploadPlan()
    batch_date = _check_batch(session, services, fields, plan)
    count = len(fields.names)
    if not count:
        plan.note("files", "Choose at least one file to upload")
    own = zip(
        _per_file(fields.titles, count),
        _per_file(fields.file_types, count),
        fields.own_dates(),
        strict=True,
    )
    for index, values in enumerate(own):
        plan.files.append(_plan_file(services, fields, index, values, plan, batch_date))
    return plan
