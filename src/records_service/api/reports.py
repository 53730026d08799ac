"""Report routes: make the Panel's report for a period and keep it as a record.

Making a report captures a ``panel_report`` record, so it needs ``manage_retention``
(records managers and admins), as on the web page and the command line; all three
call :func:`records_service.reports.produce.make_panel_report`. The reports made are
read through the record routes: ``GET /api/records?record_type=panel_report`` lists
them, and each made report's answer links to its record and its content.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from records_service.api.deps import TokenRetentionManager
from records_service.api.errors import AUTHENTICATED, problem_responses
from records_service.audit.keys import trusted_keys
from records_service.reports.lines import Period
from records_service.reports.produce import make_panel_report
from records_service.reports.schemas import PanelReportLinks, PanelReportMade, PanelReportRequest
from records_service.runtime.requests import ServicesDep

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=AUTHENTICATED)


@router.post(
    "/panel",
    status_code=status.HTTP_201_CREATED,
    response_model=PanelReportMade,
    responses={
        201: {"headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(400, 403),
    },
)
def make_panel(
    body: PanelReportRequest, services: ServicesDep, user: TokenRetentionManager
) -> JSONResponse:
    """Make the Panel's report for the period and capture it as a `panel_report` record
    (permanent). A period that ends before it starts is a 422, and nothing is captured."""
    made = make_panel_report(
        services.capture_context(),
        period=Period(body.start, body.end),
        schedule=services.schedule,
        fmt=body.format,
        actor=user,
        verifier_keys=trusted_keys(services.settings),
    )
    services.notify_worker()  # the record's text is extracted and indexed, as for a capture
    record = f"/api/records/{made.record_id}"
    answer = PanelReportMade(
        record_id=made.record_id,
        title=made.title,
        start=body.start,
        end=body.end,
        format=body.format,
        media_type=made.media_type,
        size=len(made.content),
        links=PanelReportLinks(record=record, content=f"{record}/content"),
    )
    return JSONResponse(
        answer.model_dump(mode="json", by_alias=True),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": record},
    )
