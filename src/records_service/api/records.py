"""Record routes: capture, list, read, download, new versions, metadata edits, and a
record's history (its metadata changes, and every audit entry about it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from records_service.api.audit import entries_page
from records_service.api.deps import Paging, TokenCapturer, TokenEditor, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.audit.schemas import AuditEntryPublic
from records_service.audit.service import EntryFilters
from records_service.bounds import DbId, Identifier, SafeDate
from records_service.db import read_scope, session_scope
from records_service.errors import InvalidInput
from records_service.pagination import Page
from records_service.records.bulk import BulkEdit, BulkOutcome, bulk_edit
from records_service.records.capture import capture_record
from records_service.records.download import content_headers
from records_service.records.models import Classification
from records_service.records.schemas import (
    MetadataChangePublic,
    RecordMetadata,
    RecordPublic,
    RecordUpdate,
)
from records_service.records.service import (
    RecordFilters,
    add_next_version,
    captured_view,
    get_record,
    list_records,
    metadata_history,
    open_content,
    to_public,
    update_record,
)
from records_service.runtime.requests import ReadSessionDep, ServicesDep, SessionDep

router = APIRouter(prefix="/api/records", tags=["records"], responses=AUTHENTICATED)


def _metadata(**fields: object) -> RecordMetadata:
    try:
        return RecordMetadata.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"{where}: {first['msg']}",
            errors=[{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()],
        ) from None


def _created(services: ServicesDep, body: RecordPublic) -> JSONResponse:
    services.notify_worker()
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/api/records/{body.id}"},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordPublic,
    responses={
        201: {"headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(400, 403, 404, 409, 413),
    },
)
def capture(
    services: ServicesDep,
    user: TokenCapturer,
    file: Annotated[UploadFile, File(description="The document to capture.")],
    title: Annotated[str, Form(min_length=1, max_length=300)],
    record_type: Annotated[str, Form(description="A record type key from the schedule.")],
    record_date: Annotated[str, Form(description="The date the document bears (YYYY-MM-DD).")],
    contract: Annotated[str | None, Form(description="Contract reference.")] = None,
    tags: Annotated[
        list[str] | None, Form(description="Tags (repeat, or comma-separated).")
    ] = None,
    classification: Annotated[Classification, Form()] = Classification.OFFICIAL,
    originator: Annotated[str | None, Form(max_length=200)] = None,
) -> JSONResponse:
    """Declare a record: upload its first version with its metadata (multipart)."""
    meta = _metadata(
        title=title,
        record_type=record_type,
        record_date=record_date,
        contract=contract or None,
        tags=tags or [],
        classification=classification,
        originator=originator or None,
    )
    record, version = capture_record(
        services.capture_context(), meta=meta, source=file.file, filename=file.filename, actor=user
    )
    # The response is built from the rows the capture wrote: no second read.
    return _created(services, captured_view(record, version, meta.contract, meta.tags, user))


@router.post(
    "/{record_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordPublic,
    responses=problem_responses(400, 403, 404, 409, 410, 413),
)
def new_version(
    record_id: Identifier,
    services: ServicesDep,
    user: TokenCapturer,
    file: Annotated[UploadFile, File(description="The new content.")],
) -> JSONResponse:
    """Add a new content version; earlier versions stay retrievable."""
    add_next_version(
        services.capture_context(),
        record_id=record_id,
        source=file.file,
        filename=file.filename,
        actor=user,
    )
    with read_scope(services.engine) as session:
        body = to_public(session, get_record(session, record_id, user))
    return _created(services, body)


@router.get("", response_model=Page[RecordPublic])
def list_(
    session: ReadSessionDep,
    user: TokenUser,
    paging: Paging,
    contract: Identifier | None = None,
    record_type: Identifier | None = None,
    tag: Identifier | None = None,
    classification: Classification | None = None,
    record_status: Annotated[Identifier | None, Query(alias="status")] = None,
    date_from: SafeDate | None = None,
    date_to: SafeDate | None = None,
) -> Page[RecordPublic]:
    """List the records you may see, filtered and paginated (newest record date first)."""
    filters = RecordFilters(
        contract=contract,
        record_type=record_type,
        tag=tag,
        classification=classification.value if classification else None,
        status=record_status,
        date_from=date_from,
        date_to=date_to,
    )
    rows, total = list_records(session, filters=filters, page=paging, user=user)
    return Page(
        items=[to_public(session, r) for r in rows],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get("/{record_id}", response_model=RecordPublic, responses=problem_responses(404))
def read(record_id: Identifier, session: ReadSessionDep, user: TokenUser) -> RecordPublic:
    """One record with all its versions."""
    return to_public(session, get_record(session, record_id, user))


@router.patch(
    "/{record_id}",
    response_model=RecordPublic,
    responses=problem_responses(400, 403, 404, 409, 410),
)
def update(
    record_id: Identifier,
    data: RecordUpdate,
    session: SessionDep,
    user: TokenEditor,
    services: ServicesDep,
) -> RecordPublic:
    """Change metadata; ``reason`` is required and the old values are kept."""
    record, _ = update_record(
        session,
        record_id=record_id,
        data=data,
        actor=user,
        record_types=services.record_types,
        clock=services.clock,
    )
    session.flush()
    return to_public(session, record)


@router.post(
    "/bulk",
    response_model=BulkOutcome,
    responses=problem_responses(400, 403, 404, 409, 410),
)
def bulk(
    body: BulkEdit, session: SessionDep, user: TokenEditor, services: ServicesDep
) -> BulkOutcome:
    """Add tags to several records, or move them to a contract, with one reason.

    Each record is changed as by ``PATCH /api/records/{id}`` (its own history and audit
    entry). All or nothing: a record that cannot be changed refuses the whole batch.
    """
    outcome = bulk_edit(
        session, request=body, actor=user, record_types=services.record_types, clock=services.clock
    )
    services.notify_worker()
    return outcome


@router.get(
    "/{record_id}/changes",
    response_model=list[MetadataChangePublic],
    responses=problem_responses(404),
)
def changes(
    record_id: Identifier, session: ReadSessionDep, user: TokenUser
) -> list[MetadataChangePublic]:
    """Every metadata change of the record, with old and new values and the reason."""
    return metadata_history(session, record_id, user)


@router.get(
    "/{record_id}/history",
    response_model=Page[AuditEntryPublic],
    responses=problem_responses(404),
)
def history(
    record_id: Identifier, session: ReadSessionDep, user: TokenUser, paging: Paging
) -> Page[AuditEntryPublic]:
    """Every audit entry about a record you may see, oldest first (from the log)."""
    record = get_record(session, record_id, user)
    return entries_page(session, EntryFilters(subject=f"record:{record.id}"), paging)


@router.get(
    "/{record_id}/content",
    response_class=StreamingResponse,
    # The bytes go out with the media type found at capture, whatever it is.
    responses={200: {"content": {"*/*": {}}}, **problem_responses(404, 410)},
)
def content(
    record_id: Identifier,
    services: ServicesDep,
    user: TokenUser,
    version: Annotated[DbId | None, Query(description="Version number; default current.")] = None,
) -> StreamingResponse:
    """Download a version's bytes; ``ETag`` is the SHA-256 recorded at capture."""
    with session_scope(services.engine) as session:
        found, chunks = open_content(
            session,
            services.store,
            record_id=record_id,
            number=version,
            actor=user,
            clock=services.clock,
        )
    return StreamingResponse(chunks, media_type=found.media_type, headers=content_headers(found))
