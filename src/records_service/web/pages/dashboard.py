"""The dashboard: open retention findings by kind, recent captures, and the user's own records.

Findings are only as new as the last retention check: before the first one the page
says that nothing has been checked yet (never "nothing is missing") and offers to run
it to those who may.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from records_service.auth.roles import Permission, allows
from records_service.records.service import captured_by, recent_captures
from records_service.retention.findings import open_counts
from records_service.retention.job import last_run_in
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.web.deps import SignedInUser
from records_service.web.pages._rows import record_rows
from records_service.web.pages.retention import KIND_LABELS
from records_service.web.rendering import render

router = APIRouter()


def open_findings_by_kind(session: Session) -> list[tuple[str, str, int]]:
    """(kind, label, count) of open retention findings, in the order kinds are listed."""
    counts = open_counts(session)
    return [
        (kind.value, label, counts[kind.value])
        for kind, label in KIND_LABELS.items()
        if counts.get(kind.value)
    ]


RECENT = 10


@router.get("/")
def dashboard(
    request: Request, session: ReadSessionDep, services: ServicesDep, user: SignedInUser
) -> Response:
    """Recent captures anyone may see, and the records this user captured."""
    recent = recent_captures(session, user, RECENT)
    mine = captured_by(session, user, RECENT)
    context = {
        "recent": record_rows(session, recent, services.schedule),
        "mine": record_rows(session, mine, services.schedule),
        "findings": open_findings_by_kind(session)
        if allows(user.role_set, Permission.READ_AUDIT)
        else None,
        "last_check": last_run_in(session),
    }
    return render(request, "dashboard.html", context, user=user)
