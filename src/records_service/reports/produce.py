"""Making the Panel's report and keeping it: every report made is captured.

:func:`make_panel_report` gathers the period's data, renders it (HTML or PDF) and
captures the bytes as a ``panel_report`` record (permanent in the default schedule)
through the same capture path as an upload: stored, audited as ``record.capture``,
extracted and indexed. What the Panel was shown is therefore kept unaltered, and the
CLI and the web page hand back exactly the bytes that were captured, with the
record's id. Only records managers and admins make reports (a capture is a change;
auditors read the captured reports).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.auth.service import get_user
from records_service.db import read_scope
from records_service.errors import InvalidInput, PermissionDenied
from records_service.pagination import PageParams
from records_service.records.capture import CaptureContext, capture_record
from records_service.records.models import Record
from records_service.records.schemas import RecordMetadata
from records_service.records.service import RecordFilters, list_records
from records_service.reports.lines import PanelReport, Period
from records_service.reports.panel import gather_panel
from records_service.reports.render import render_html
from records_service.retention.schedule import RetentionSchedule

PANEL_REPORT_TYPE = "panel_report"
PANEL_REPORT_TAG = "panel-report"
ReportFormat = Literal["html", "pdf"]
FORMATS: tuple[ReportFormat, ...] = ("html", "pdf")
MEDIA_TYPES: dict[ReportFormat, str] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class MadeReport:
    """A report made and captured: its record, its bytes and what it says."""

    record_id: str
    title: str
    filename: str
    media_type: str
    content: bytes
    report: PanelReport


def check_may_report(user: User) -> None:
    """Refuse a user who may not make a Panel's report (it captures a record)."""
    if user.disabled or not allows(user.role_set, Permission.MANAGE_RETENTION):
        raise PermissionDenied(
            f"user {user.username!r} may not make the Panel's report: it is made by a "
            "records manager or an admin"
        )


def report_user(session: Session, username: str) -> User:
    """The user a command makes the report as (``PermissionDenied`` if not allowed)."""
    user = get_user(session, username)
    check_may_report(user)
    return user


def make_panel_report(
    ctx: CaptureContext,
    *,
    period: Period,
    schedule: RetentionSchedule,
    fmt: ReportFormat,
    actor: User,
    verifier_keys: Sequence[str] = (),
) -> MadeReport:
    """Gather, render and capture the Panel's report for ``period``, as ``actor``."""
    check_may_report(actor)
    if PANEL_REPORT_TYPE not in ctx.record_types:
        raise InvalidInput(
            f"the retention schedule has no record type {PANEL_REPORT_TYPE!r} to keep the "
            "report under; add it (permanent) to the schedule file"
        )
    with read_scope(ctx.engine) as session:
        report = gather_panel(
            session,
            period=period,
            schedule=schedule,
            produced_at=ctx.clock(),
            produced_by=actor.username,
            verifier_keys=verifier_keys,
        )
    content = render_html(report).encode("utf-8") if fmt == "html" else _pdf(report)
    filename = f"panel-report-{period.start}-to-{period.end}.{fmt}"
    meta = RecordMetadata(
        title=f"Panel's report, {period.start} to {period.end}",
        record_type=PANEL_REPORT_TYPE,
        record_date=report.produced_at.date(),
        tags=[PANEL_REPORT_TAG],
    )
    record, _ = capture_record(
        ctx, meta=meta, source=io.BytesIO(content), filename=filename, actor=actor
    )
    return MadeReport(record.id, meta.title, filename, MEDIA_TYPES[fmt], content, report)


def panel_reports(session: Session, user: User, limit: int = 50) -> tuple[list[Record], int]:
    """The Panel's reports made so far that ``user`` may see, newest first, and how many."""
    return list_records(
        session,
        filters=RecordFilters(record_type=PANEL_REPORT_TYPE),
        page=PageParams(page=1, page_size=limit),
        user=user,
    )


def _pdf(report: PanelReport) -> bytes:
    # Imported here: ReportLab costs every server process about 7 MiB, for a report
    # made a few times a year.
    from records_service.reports.pdf import render_pdf

    return render_pdf(report)
