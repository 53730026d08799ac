"""Uploading several files at once: batch metadata, one record per file.

Each file may have its own title, record type and record date, the batch's values
being the defaults (``_upload_plan.py``). Every field of every file is checked first;
if any is wrong nothing is captured and each error is reported beside its field. The
page's script asks ``/upload/check`` the same question before it sends any file, and
sends the files itself, so a refusal never loses them. Then each file is captured on
its own, so a file that fails (too large, unreadable, storage down) does not stop the
others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import Identifier
from records_service.contracts.service import recently_changed_contracts
from records_service.db import read_scope
from records_service.errors import DomainError
from records_service.records.capture import capture_record
from records_service.records.models import Classification
from records_service.records.schemas import RecordMetadata
from records_service.records.service import tag_suggestions
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.storage import StorageError
from records_service.web.deps import SignedInCapturer
from records_service.web.pages._return_spend import (
    ReturnSpend,
    check_return_spend,
    record_return_spend,
)
from records_service.web.pages._rows import type_choices
from records_service.web.pages._upload_plan import (
    FilePlan,
    UploadForm,
    UploadPlan,
    plan_upload,
)
from records_service.web.rendering import render

router = APIRouter()

CONTRACT_CHOICES = 1000
PROBLEM_JSON = "application/problem+json"
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
    # No default record date: a date that looks right but is not is worse than none.
    defaults = {"classification": "OFFICIAL"}
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
    record_type: Identifier | None = None,
) -> Response:
    """The upload form (``?contract=REF`` and ``?record_type=KEY`` preselect them, as the
    findings' "Upload this" links do)."""
    chosen = {"contract": contract or "", "record_type": record_type or ""}
    context = form_context(session, services, user, chosen)
    return render(request, "upload.html", context, user=user)


def _wants_json(request: Request) -> bool:
    """The page's script asks for errors as JSON, to show them without reloading."""
    return PROBLEM_JSON in request.headers.get("accept", "")


def _refused(plan: UploadPlan) -> Response:
    """An RFC 9457 problem listing every field's error (and, for a date, the boxes to
    correct), for the page's script."""
    errors: list[dict[str, Any]] = []
    for key, message in plan.errors.items():
        error: dict[str, Any] = {"field": key, "message": message}
        if key in plan.wrong:
            error["boxes"] = list(plan.wrong[key])
        errors.append(error)
    body = {
        "type": "urn:records-service:problem:invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": "Some fields need changing before the files can be uploaded",
        "errors": errors,
    }
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)


def _capture_one(
    services: ServicesDep, user: User, upload: UploadFile, plan: FilePlan, shared: dict[str, Any]
) -> FileOutcome:
    name = upload.filename or "unnamed file"
    title = plan.title
    try:
        meta = RecordMetadata.model_validate(
            {
                **shared,
                "title": title,
                "record_type": plan.record_type,
                "record_date": plan.record_date,
            }
        )
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


def _with_spend(
    services: ServicesDep, user: User, plan: Any, outcomes: list[FileOutcome], spend: Any
) -> list[FileOutcome]:
    """Record the spend of the upload's one monitoring return, if it was captured."""
    result = []
    for outcome, file_plan in zip(outcomes, plan.files, strict=True):
        if outcome.record_id and file_plan.record_type == "monitoring_return":
            problem = record_return_spend(
                services, user, plan.shared["contract"], spend, outcome.record_id
            )
            outcome = FileOutcome(outcome.filename, outcome.title, outcome.record_id, problem)
        result.append(outcome)
    return result


def _return_spend(form: UploadForm) -> ReturnSpend:
    return ReturnSpend(*form.spend_period(), form.spent, form.spend_outcomes)


@router.post("/upload/check")
def upload_check(
    services: ServicesDep, user: SignedInCapturer, form: Annotated[UploadForm, Form()]
) -> Response:
    """Check an upload's fields, given the files' names only: 204, or a problem listing
    every field's error. The page's script asks before it sends any file."""
    with read_scope(services.engine) as session:
        plan = plan_upload(session, services, form)
    check_return_spend(_return_spend(form), plan)
    return _refused(plan) if plan.errors else Response(status_code=204)


class PostedUpload(UploadForm):
    """The upload form with its files (a browser sends an empty string part when no
    file was chosen)."""

    files: list[UploadFile | str] = []


@router.post("/upload")
def upload(
    request: Request,
    services: ServicesDep,
    user: SignedInCapturer,
    posted: Annotated[PostedUpload, Form()],
) -> Response:
    """Capture every chosen file as its own record, reporting each one; if any field
    of any file is wrong, capture none and say what to change."""
    chosen = [f for f in posted.files if not isinstance(f, str) and f.filename]
    fields = posted.model_copy(update={"names": [f.filename or "" for f in chosen]})
    return_spend = _return_spend(fields)
    with read_scope(services.engine) as session:
        plan = plan_upload(session, services, fields)
        spend = check_return_spend(return_spend, plan)
        if plan.errors:
            if _wants_json(request):
                return _refused(plan)
            context = form_context(session, services, user, fields.batch() | return_spend.form())
            context |= {"errors": plan.errors, "date_wrong": plan.wrong}
            return render(request, "upload.html", context, user=user, status_code=422)
    outcomes = [
        _capture_one(services, user, f, p, plan.shared)
        for f, p in zip(chosen, plan.files, strict=True)
    ]
    services.notify_worker()
    if spend is not None:
        outcomes = _with_spend(services, user, plan, outcomes, spend)
    captured = sum(1 for o in outcomes if o.record_id)
    status = 200 if captured else 422
    context = {"outcomes": outcomes, "captured": captured, "contract": plan.shared["contract"]}
    return render(request, "upload_result.html", context, user=user, status_code=status)
