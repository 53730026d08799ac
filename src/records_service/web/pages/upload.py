"""Uploading several files at once: shared metadata, one record per file.

The shared fields (contract, record type, tags, date, classification) are checked
first and reported beside their fields. Then each file is captured on its own, so a
file that fails (too large, unreadable, storage down) does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import FormValue, Identifier, check_text, normalise_tags
from records_service.contracts.service import contract_id, recently_changed_contracts
from records_service.db import read_scope
from records_service.errors import DomainError, InvalidInput
from records_service.records.capture import capture_record, check_record_date
from records_service.records.models import Classification
from records_service.records.schemas import RecordMetadata
from records_service.records.service import tag_suggestions
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.storage import StorageError
from records_service.web.deps import SignedInCapturer
from records_service.web.pages._forms import optional, read_day, title_from_filename
from records_service.web.pages._rows import type_choices
from records_service.web.rendering import render

router = APIRouter()

CONTRACT_CHOICES = 1000
TAG_CHOICES = 300


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one uploaded file."""

    filename: str
    title: str
    record_id: Identifier | None = None
    error: str | None = None


def contract_choices(session: Session) -> list[tuple[str, str]]:
    """Contracts as (reference, title) for the searchable contract box."""
    return recently_changed_contracts(session, CONTRACT_CHOICES)


def tag_choices(session: Session, user: User) -> list[str]:
    """The tags most used on records ``user`` may see, for autocompletion."""
    return tag_suggestions(session, user, TAG_CHOICES)


def form_context(
    session: Session, services: ServicesDep, user: User, form: dict[str, Any]
) -> dict[str, Any]:
    """Everything the upload form needs to offer its choices (to ``user``)."""
    defaults = {"record_date": services.clock().date().isoformat(), "classification": "OFFICIAL"}
    return {
        "form": defaults | form,
        "contracts": contract_choices(session),
        "tags": tag_choices(session, user),
        "record_types": type_choices(services.schedule),
        "classifications": [c.value for c in Classification],
        # The whole request is bounded by it too (records_service.intake).
        "max_upload": services.settings.max_upload_bytes,
    }


@router.get("/upload")
def upload_form(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInCapturer,
    contract: Identifier | None = None,
) -> Response:
    """The upload form (``?contract=REF`` preselects a contract)."""
    context = form_context(session, services, user, {"contract": contract or ""})
    return render(request, "upload.html", context, user=user)


def _check_shared(
    session: Session, services: ServicesDep, fields: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate the fields shared by every file: (clean values, errors by field)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if fields["record_type"] not in services.record_types:
        errors["record_type"] = "Choose a record type"
    clean["record_type"] = fields["record_type"]
    try:
        day = read_day(fields["record_date"])  # check_record_date bounds it
        if day is None:
            raise InvalidInput("Enter the date the document bears")
        check_record_date(day, services.clock().date())
        clean["record_date"] = day
    except ValueError:
        errors["record_date"] = "Enter a real date, for example 2024-03-31"
    except InvalidInput as exc:
        errors["record_date"] = exc.detail[:1].upper() + exc.detail[1:]
    clean["contract"] = optional(fields["contract"])
    if clean["contract"] and _not_text(clean["contract"]):
        errors["contract"] = "Choose a contract from the list"
    elif clean["contract"]:
        try:
            contract_id(session, clean["contract"])
        except DomainError:
            errors["contract"] = (
                f"There is no contract {clean['contract']}; choose one from the list"
            )
    try:
        clean["tags"] = normalise_tags([fields["tags"]])
    except ValueError as exc:
        errors["tags"] = str(exc)
    if fields["classification"] not in {c.value for c in Classification}:
        errors["classification"] = "Choose a classification"
    clean["classification"] = fields["classification"]
    clean["originator"] = optional(fields["originator"])
    return clean, errors


def _not_text(value: str) -> bool:
    try:
        check_text(value)
    except ValueError:
        return True
    return False


def _titles_for(files: list[UploadFile], titles: list[str]) -> list[str]:
    given = [t.strip() for t in titles]
    if len(given) != len(files):
        given = given[:1] if len(files) == 1 else []
        given += [""] * (len(files) - len(given))
    return [t or title_from_filename(f.filename or "") for f, t in zip(files, given, strict=True)]


def _capture_one(
    services: ServicesDep, user: User, upload: UploadFile, title: str, shared: dict[str, Any]
) -> FileOutcome:
    name = upload.filename or "unnamed file"
    try:
        meta = RecordMetadata.model_validate({**shared, "title": title})
        record, _ = capture_record(
            services.capture_context(),
            meta=meta,
            source=upload.file,
            filename=upload.filename,
            actor=user,
        )
    except ValidationError as exc:
        return FileOutcome(name, title, error=f"Not captured: {exc.errors()[0]['msg']}")
    except DomainError as exc:
        return FileOutcome(name, title, error=f"Not captured: {exc.detail}")
    except StorageError:
        return FileOutcome(name, title, error="Not captured: the document store is unavailable")
    return FileOutcome(name, title, record_id=record.id)


@router.post("/upload")
def upload(
    request: Request,
    services: ServicesDep,
    user: SignedInCapturer,
    files: Annotated[list[UploadFile | str] | None, File()] = None,
    titles: Annotated[list[FormValue] | None, Form()] = None,
    contract: Annotated[FormValue, Form()] = "",
    record_type: Annotated[FormValue, Form()] = "",
    record_date: Annotated[FormValue, Form()] = "",
    tags: Annotated[FormValue, Form()] = "",
    classification: Annotated[FormValue, Form()] = "OFFICIAL",
    originator: Annotated[FormValue, Form()] = "",
) -> Response:
    """Capture every chosen file as its own record, reporting each one."""
    fields = {
        "contract": contract,
        "record_type": record_type,
        "record_date": record_date,
        "tags": tags,
        "classification": classification,
        "originator": originator,
    }
    # A browser sends an empty string part when no file was chosen.
    chosen = [f for f in files or [] if not isinstance(f, str) and f.filename]
    with read_scope(services.engine) as session:
        shared, errors = _check_shared(session, services, fields)
        if not chosen:
            errors["files"] = "Choose at least one file to upload"
        if errors:
            context = form_context(session, services, user, fields) | {"errors": errors}
            return render(request, "upload.html", context, user=user, status_code=422)
    names = _titles_for(chosen, titles or [])
    outcomes = [
        _capture_one(services, user, f, t, shared) for f, t in zip(chosen, names, strict=True)
    ]
    services.notify_worker()
    captured = sum(1 for o in outcomes if o.record_id)
    status = 200 if captured else 422
    context = {"outcomes": outcomes, "captured": captured, "contract": shared["contract"]}
    return render(request, "upload_result.html", context, user=user, status_code=status)
