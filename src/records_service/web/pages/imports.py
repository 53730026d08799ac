"""Import batches for records managers: every batch with who ran it, when and its
counts; one batch's files with their outcomes and reasons, linking to the records
they became or repeat; and the batch's report as CSV or JSON.

Batches are made by ``records-service import`` (docs/import.md); these pages only read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from records_service.bounds import DbId, Identifier, PageNumber
from records_service.imports.models import Outcome
from records_service.imports.queries import batch_files, get_batch, list_batches, report_rows
from records_service.imports.report import report_csv, report_json
from records_service.pagination import PageParams
from records_service.records.service import record_titles
from records_service.runtime.requests import ReadSessionDep
from records_service.web.deps import SignedInImportManager
from records_service.web.pages.records import page_links
from records_service.web.rendering import render

router = APIRouter(prefix="/imports")

PAGE_SIZE = 50


@router.get("")
def batch_list(
    request: Request,
    session: ReadSessionDep,
    user: SignedInImportManager,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """Every import batch, the latest run first."""
    batches, total = list_batches(session, PageParams(page=page, page_size=PAGE_SIZE))
    context = {
        "batches": batches,
        "outcomes": [o.value for o in Outcome],
        "pages": page_links(page, PAGE_SIZE, total, dict(request.query_params)),
    }
    return render(request, "imports.html", context, user=user)


@router.get("/{batch_id}")
def batch_page(
    batch_id: DbId,
    request: Request,
    session: ReadSessionDep,
    user: SignedInImportManager,
    outcome: Identifier = "",
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """One batch: its counts, and its files (of one outcome, if asked) with their records."""
    batch = get_batch(session, batch_id)
    shown = outcome if outcome in {o.value for o in Outcome} else None
    files, total = batch_files(session, batch_id, shown, PageParams(page=page, page_size=PAGE_SIZE))
    titles = record_titles(session, {f.record_id for f in files if f.record_id}, user)
    context = {
        "batch": batch,
        "files": files,
        "titles": titles,
        "outcome": shown or "",
        "outcomes": [o.value for o in Outcome],
        "pages": page_links(page, PAGE_SIZE, total, dict(request.query_params)),
    }
    return render(request, "import_batch.html", context, user=user)


def _download(body: str, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/{batch_id}/report.csv")
def report_as_csv(batch_id: DbId, session: ReadSessionDep, user: SignedInImportManager) -> Response:
    """The batch's report: every file's outcome and reason, with its mapped metadata."""
    get_batch(session, batch_id)
    body = report_csv(report_rows(session, batch_id))
    return _download(body, "text/csv; charset=utf-8", f"import-{batch_id}.csv")


@router.get("/{batch_id}/report.json")
def report_as_json(
    batch_id: DbId, session: ReadSessionDep, user: SignedInImportManager
) -> Response:
    """The batch's report as JSON, headed by the batch and its counts."""
    batch = get_batch(session, batch_id)
    header = {"batch": batch.name, "source": batch.source, "counts": batch.counts}
    body = report_json(header, report_rows(session, batch_id))
    return _download(body, "application/json", f"import-{batch_id}.json")
