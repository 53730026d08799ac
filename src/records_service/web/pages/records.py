"""Record pages: one record with its versions, provenance and history, and downloads
(the list is in ``record_list``). Every download or inline view is audited exactly as
the API's."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from records_service.audit.service import EntryFilters, EntryView, list_entries
from records_service.auth.models import User
from records_service.bounds import DbId, Identifier
from records_service.db import session_scope
from records_service.extraction.media_types import PDF, normalise
from records_service.imports.queries import record_provenance
from records_service.pagination import PageParams
from records_service.records.download import Disposition, content_headers
from records_service.records.parts import attachments_of, message_of
from records_service.records.service import (
    find_version,
    get_record,
    metadata_history,
    to_public,
)
from records_service.retention.record_view import record_retention
from records_service.runtime.operations import open_version
from records_service.runtime.requests import ServicesDep
from records_service.web.deps import SignedInUser
from records_service.web.pages._preview import build_preview
from records_service.web.pages._rows import type_label
from records_service.web.rendering import render

router = APIRouter()

PAGE_SIZE = 25
# Text shown inline is always sent as text/plain; anything else (HTML above all) downloads.
INLINE_TEXT = frozenset({"text/plain", "text/csv", "text/markdown"})


def page_links(
    page: int, page_size: int, total: int, params: dict[str, Any], path: str = ""
) -> dict[str, Any]:
    """Previous/next links that keep every other query parameter; ``path`` is the page
    they lead to, when not the address that rendered them (a form's answer)."""
    last = max(1, -(-total // page_size))
    kept = {k: v for k, v in params.items() if v not in (None, "", False) and k != "page"}

    def link(number: int) -> str:
        return path + "?" + urlencode({**kept, "page": number})

    return {
        "page": page,
        "last": last,
        "total": total,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < last else None,
    }


@router.get("/records/{record_id}")
def record_page(
    record_id: Identifier,
    request: Request,
    services: ServicesDep,
    user: SignedInUser,
    version: Annotated[DbId | None, Query()] = None,
) -> Response:
    """One record: details, versions, preview and history."""
    with session_scope(services.engine) as session:
        record = get_record(session, record_id, user)
        public = to_public(session, record)
        shown = find_version(session, record, version)
        preview = build_preview(
            session,
            services.store,
            record=record,
            version=shown,
            actor=user,
            clock=services.clock,
            replica=services.replica,
        )
        context = {
            "record": public,
            "type_label": type_label(services.schedule, record.record_type),
            "preview": preview,
            "changes": metadata_history(session, record_id, user),
            "provenance": record_provenance(session, record_id),
            "part_of": message_of(session, record_id, user),
            "attachments": attachments_of(session, record_id, user),
            "activity": _activity(session, record_id),
            "action_labels": ACTION_LABELS,
            "retention": record_retention(
                session, record, services.schedule, services.clock().date(), services.store
            ),
        }
    return render(request, "record.html", context, user=user)


HISTORY_LIMIT = 200
ACTION_LABELS = {
    "record.capture": "Captured",
    "record.part": "Taken from a message as its attachment",
    "record.version": "New version added",
    "record.update": "Details changed",
    "record.read": "Content read or downloaded",
    "hold.place": "Hold placed",
    "hold.release": "Hold released",
    "disposition.propose": "Disposal proposed",
    "disposition.approve": "Disposal approved",
    "disposition.reject": "Disposal rejected",
    "disposition.execute": "Disposal carried out",
    "import.duplicate": "Same bytes found again by an import",
}


def _activity(session: Session, record_id: Identifier) -> list[EntryView]:
    """The record's entries in the audit log (it follows the record's visibility, as the API)."""
    entries, _ = list_entries(
        session,
        filters=EntryFilters(subject=f"record:{record_id}"),
        page=PageParams(page=1, page_size=HISTORY_LIMIT),
    )
    return entries


def _content(
    services: ServicesDep, user: User, record_id: Identifier, number: DbId, *, inline: bool
) -> StreamingResponse:
    found, chunks = open_version(services, record_id=record_id, number=number, actor=user)
    media_type = normalise(found.media_type)
    if inline and media_type == PDF:
        kind: Disposition = "inline"
    elif inline and media_type in INLINE_TEXT:
        kind, media_type = "inline", "text/plain; charset=utf-8"
    else:
        kind = "attachment"
    headers = {**content_headers(found, kind), "Cache-Control": "private, no-store"}
    if media_type != PDF:
        # The browser's PDF viewer needs scripts; nothing else served here may run any.
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return StreamingResponse(chunks, media_type=media_type, headers=headers)


@router.get("/records/{record_id}/versions/{number}/download")
def download(
    record_id: Identifier, number: DbId, services: ServicesDep, user: SignedInUser
) -> Response:
    """Download a version's exact bytes (audited as a read)."""
    return _content(services, user, record_id, number, inline=False)


@router.get("/records/{record_id}/versions/{number}/view")
def view_inline(
    record_id: Identifier, number: DbId, services: ServicesDep, user: SignedInUser
) -> Response:
    """Show a PDF or text version inline, for the preview frame (audited as a read)."""
    return _content(services, user, record_id, number, inline=True)
