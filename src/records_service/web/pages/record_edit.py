"""Changing a record: editing its details (a reason is required) and adding a version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import FormValue, Identifier
from records_service.db import session_scope
from records_service.errors import DomainError
from records_service.records.models import Classification
from records_service.records.schemas import RecordUpdate
from records_service.records.service import (
    add_next_version,
    get_record,
    to_public,
)
from records_service.runtime.operations import edit_record
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.storage import StorageError
from records_service.web.deps import SignedInCapturer, SignedInEditor
from records_service.web.pages._forms import date_parts, field_of, optional, read_date
from records_service.web.pages._rows import type_choices
from records_service.web.pages.upload import contract_choices, tag_choices
from records_service.web.rendering import flash, redirect, render

router = APIRouter()


def _edit_context(
    session: Session, services: ServicesDep, record_id: str, user: User
) -> dict[str, Any]:
    record = to_public(session, get_record(session, record_id, user))
    return {
        "record": record,
        "contracts": contract_choices(session),
        "tags": tag_choices(session, user),
        "record_types": type_choices(services.schedule),
        "classifications": [c.value for c in Classification],
    }


@router.get("/records/{record_id}/edit")
def edit_form(
    record_id: Identifier,
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInEditor,
) -> Response:
    """The edit form, filled with the current details."""
    context = _edit_context(session, services, record_id, user)
    record = context["record"]
    context["form"] = {
        "title": record.title,
        "record_type": record.record_type,
        "contract": record.contract or "",
        "tags": ", ".join(record.tags),
        **date_parts("record_date", record.record_date),
        "classification": record.classification,
        "originator": record.originator or "",
        "reason": "",
    }
    return render(request, "record_edit.html", context, user=user)


def _update_from(form: dict[str, str]) -> RecordUpdate:
    """The update for every field on the form; unchanged ones are ignored by the service."""
    entry = read_date(form, "record_date", "Record date")
    if entry.error:
        raise DateProblem(entry.error, entry.wrong)
    return RecordUpdate.model_validate(
        {
            "reason": form["reason"].strip(),
            "title": form["title"].strip(),
            "record_type": form["record_type"],
            "contract": optional(form["contract"]),
            "tags": [form["tags"]],
            "record_date": entry.day,
            "classification": form["classification"],
            "originator": optional(form["originator"]),
        }
    )


class DateProblem(ValueError):
    """The record date's boxes cannot be read: what to fix, and which boxes."""

    def __init__(self, message: str, wrong: tuple[str, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.wrong = wrong


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    messages = {
        "reason": "Say why you are changing the details (at least 3 characters)",
        "title": "Enter a title of at most 300 characters",
        "record_date": "Enter a real date, for example 2024-03-31",
    }
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "reason"
        errors.setdefault(field, messages.get(field, str(error["msg"])))
    return errors


@router.post("/records/{record_id}/edit")
def edit(
    record_id: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInEditor,
    title: Annotated[FormValue, Form()] = "",
    record_type: Annotated[FormValue, Form()] = "",
    contract: Annotated[FormValue, Form()] = "",
    tags: Annotated[FormValue, Form()] = "",
    record_date: Annotated[FormValue, Form()] = "",
    record_date_day: Annotated[FormValue, Form()] = "",
    record_date_month: Annotated[FormValue, Form()] = "",
    record_date_year: Annotated[FormValue, Form()] = "",
    classification: Annotated[FormValue, Form()] = "",
    originator: Annotated[FormValue, Form()] = "",
    reason: Annotated[FormValue, Form()] = "",
) -> Response:
    """Apply the edit; the old values and the reason are kept in the record's history."""
    form = {
        "title": title,
        "record_type": record_type,
        "contract": contract,
        "tags": tags,
        "record_date": record_date,
        "record_date_day": record_date_day,
        "record_date_month": record_date_month,
        "record_date_year": record_date_year,
        "classification": classification,
        "originator": originator,
        "reason": reason,
    }
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    try:
        data = _update_from(form)
        with session_scope(services.engine) as session:
            _, changed = edit_record(services, session, record_id, data, user)
    except DateProblem as exc:
        errors, wrong = {"record_date": exc.message}, {"record_date": exc.wrong}
    except ValueError as exc:
        errors = (
            _validation_errors(exc)
            if isinstance(exc, ValidationError)
            else {"record_date": "Enter a real date, for example 31 3 2024"}
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        errors = {field_of(exc, "reason"): exc.detail[:1].upper() + exc.detail[1:]}
    if errors:
        with session_scope(services.engine) as session:
            context = _edit_context(session, services, record_id, user)
        context |= {"form": form, "errors": errors, "date_wrong": wrong}
        return render(request, "record_edit.html", context, user=user, status_code=422)
    flash(request, "Details updated." if changed else "Nothing was changed.")
    return redirect(f"/records/{record_id}")


@router.get("/records/{record_id}/new-version")
def new_version_form(
    record_id: Identifier, request: Request, session: ReadSessionDep, user: SignedInCapturer
) -> Response:
    """The form to upload a new version of a record."""
    record = to_public(session, get_record(session, record_id, user))
    return render(request, "record_version.html", {"record": record}, user=user)


@router.post("/records/{record_id}/new-version")
def new_version(
    record_id: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInCapturer,
    file: Annotated[UploadFile | str | None, File()] = None,
) -> Response:
    """Add the uploaded file as the record's next version; earlier versions stay."""
    error = None
    if file is None or isinstance(file, str) or not file.filename:
        error = "Choose a file to upload"
    else:
        try:
            _, version = add_next_version(
                services.capture_context(),
                record_id=record_id,
                source=file.file,
                filename=file.filename,
                actor=user,
            )
        except DomainError as exc:
            error = exc.detail[:1].upper() + exc.detail[1:]
        except StorageError:
            error = "The document store is unavailable; try again later"
    if error:
        with session_scope(services.engine) as session:
            public = to_public(session, get_record(session, record_id, user))
        context = {"record": public, "errors": {"file": error}}
        return render(request, "record_version.html", context, user=user, status_code=422)
    services.notify_worker()
    flash(request, f"Version {version.number} added.")
    return redirect(f"/records/{record_id}")
