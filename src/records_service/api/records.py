"""Record routes: capture, list, read, download, new versions, metadata edits, and a
record's history (its metadata changes, and every audit entry about it)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from sqlmodel import Session

from records_service.api.audit import entries_page
from records_service.api.deps import Paging, TokenCapturer, TokenEditor, TokenUser
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.audit.schemas import AuditEntryPublic
from records_service.audit.service import EntryFilters
from records_service.auth.models import User
from records_service.bounds import DbId, IdempotencyKeyText, Identifier, SafeDate
from records_service.db import read_scope
from records_service.errors import InvalidInput
from records_service.pagination import Page
from records_service.records.bulk import BulkEdit, BulkOutcome, bulk_edit
from records_service.records.capture import InTransaction, capture_record
from records_service.records.content import UploadSpool
from records_service.records.download import content_headers
from records_service.records.idempotency import (
    HEADER,
    Replay,
    claim,
    complete,
    fingerprint,
    release,
)
from records_service.records.models import Classification, Record, Version
from records_service.records.parts import with_links
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
    to_public,
)
from records_service.runtime.operations import edit_record, open_version
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


IdempotencyKey = Annotated[
    IdempotencyKeyText | None,
    Header(
        alias=HEADER,
        description="Makes the request safe to retry: a retry with the same key and the "
        "same request (fields and file) within the key's lifetime (24 hours by default) "
        "gets the first response again, with `Idempotent-Replayed: true`, and nothing is "
        "captured twice. The same key with a different request is a 422; while the first "
        "request is still running, a 409. Keys belong to the user who sent them.",
    ),
]
# What a capture's response is built from, inside its transaction.
View = Callable[[Session, Record, Version], RecordPublic]
# Runs the capture (with writes for its transaction, if any) and returns the response body.
Run = Callable[[InTransaction | None], RecordPublic]
_CREATED_HEADERS = {
    "Location": {"schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the response to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string"},
    },
}


def _created(services: ServicesDep, body: RecordPublic) -> JSONResponse:
    services.notify_worker()
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/api/records/{body.id}"},
    )


def _upload_digest(upload: UploadFile) -> dict[str, object]:
    """The upload's name, size and SHA-256: the spool's own, hashed as it arrived, or
    read from its spooled copy (then rewound)."""
    spool = upload.file
    if isinstance(spool, UploadSpool) and spool.in_order:
        return {"filename": upload.filename, "size": spool.size, "sha256": spool.sha256}
    digest, size = hashlib.sha256(), 0
    while chunk := upload.file.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    upload.file.seek(0)
    return {"filename": upload.filename, "size": size, "sha256": digest.hexdigest()}


def _replayed(replay: Replay) -> JSONResponse:
    """The first response to a request with this Idempotency-Key, again."""
    headers = {"Idempotent-Replayed": "true"}
    if replay.location:
        headers["Location"] = replay.location
    return JSONResponse(replay.body, status_code=replay.status_code, headers=headers)


def _created_once(
    services: ServicesDep,
    user: User,
    key: str | None,
    request: Callable[[], dict[str, object]],
    run: Run,
    view: View,
) -> JSONResponse:
    """Run a capture once per ``Idempotency-Key`` (see records.idempotency); ``request``
    describes the request for its fingerprint (only worked out when a key is given)."""
    if key is None:
        return _created(services, run(None))
    assert user.id is not None
    held = claim(
        services.engine,
        user_id=user.id,
        key=key,
        fingerprint=fingerprint(request()),
        now=services.clock(),
        keep=timedelta(hours=services.settings.idempotency_key_hours),
    )
    if isinstance(held, Replay):
        return _replayed(held)

    bodies: list[RecordPublic] = []

    def completed(session: Session, record: Record, version: Version) -> None:
        bodies.append(view(session, record, version))
        body = bodies[0].model_dump(mode="json")
        complete(session, held, status_code=201, body=body, location=f"/api/records/{record.id}")

    try:
        run(completed)
    except BaseException:
        release(services.engine, held)
        raise
    return _created(services, bodies[0])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordPublic,
    responses={201: {"headers": _CREATED_HEADERS}, **problem_responses(400, 403, 404, 409, 413)},
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
    idempotency_key: IdempotencyKey = None,
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

    def view(_session: Session, record: Record, version: Version) -> RecordPublic:
        # Built from the rows the capture wrote: no second read.
        return captured_view(record, version, meta.contract, meta.tags, user)

    def run(in_transaction: InTransaction | None) -> RecordPublic:
        record, version = capture_record(
            services.capture_context(),
            meta=meta,
            source=file.file,
            filename=file.filename,
            actor=user,
            in_transaction=in_transaction,
        )
        return captured_view(record, version, meta.contract, meta.tags, user)

    def request() -> dict[str, object]:
        return {"route": "capture", **meta.model_dump(mode="json"), **_upload_digest(file)}

    return _created_once(services, user, idempotency_key, request, run, view)


@router.post(
    "/{record_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordPublic,
    responses={
        201: {"headers": _CREATED_HEADERS},
        **problem_responses(400, 403, 404, 409, 410, 413),
    },
)
def new_version(
    record_id: Identifier,
    services: ServicesDep,
    user: TokenCapturer,
    file: Annotated[UploadFile, File(description="The new content.")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add a new content version; earlier versions stay retrievable."""

    def view(session: Session, _record: Record, _version: Version) -> RecordPublic:
        return _view(session, get_record(session, record_id, user), user)

    def run(in_transaction: InTransaction | None) -> RecordPublic:
        add_next_version(
            services.capture_context(),
            record_id=record_id,
            source=file.file,
            filename=file.filename,
            actor=user,
            in_transaction=in_transaction,
        )
        with read_scope(services.engine) as session:
            return _view(session, get_record(session, record_id, user), user)

    def request() -> dict[str, object]:
        return {"route": "version", "record_id": record_id, **_upload_digest(file)}

    return _created_once(services, user, idempotency_key, request, run, view)


def _view(session: Session, record: Record, user: User) -> RecordPublic:
    """The API view of ``record`` with its "part of" links, as ``user`` may see them."""
    return with_links(session, [to_public(session, record)], user)[0]


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
        items=with_links(session, [to_public(session, r) for r in rows], user),
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get("/{record_id}", response_model=RecordPublic, responses=problem_responses(404))
def read(record_id: Identifier, session: ReadSessionDep, user: TokenUser) -> RecordPublic:
    """One record with all its versions, the message it is part of and its parts."""
    return _view(session, get_record(session, record_id, user), user)


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
    record, _ = edit_record(services, session, record_id, data, user)
    session.flush()
    return _view(session, record, user)


@router.post(
    "/bulk",
    response_model=BulkOutcome,
    responses=problem_responses(400, 403, 404, 409, 410, 413),
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
    found, chunks = open_version(services, record_id=record_id, number=version, actor=user)
    return StreamingResponse(chunks, media_type=found.media_type, headers=content_headers(found))
