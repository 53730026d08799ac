"""Approving disposals: a confirmation page listing exactly what will go, then the approval.

The dispositions list links each disposal a person may approve to this page, and sends
several ticked at once here too. The page lists every record with its contract and
stored versions, says why any chosen one cannot be approved by this person, and asks for
one reason; only its warning button approves, each disposal in turn under the usual
rules (:mod:`records_service.retention.approvals`). Needs ``manage_retention``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import DbIds, FormReason
from records_service.db import read_scope
from records_service.retention.approvals import (
    ApprovalOutcome,
    ApprovalPreview,
    approve_many,
    preview_approvals,
)
from records_service.runtime.requests import ReadSessionDep, ServicesDep
from records_service.runtime.services import Services
from records_service.web.deps import SignedInRetentionManager
from records_service.web.pages._rows import type_label
from records_service.web.rendering import flash, redirect, render

router = APIRouter(prefix="/retention/dispositions")

REASON_MESSAGE = "Give a reason for approving (at least 3 characters)"


def _previews(
    session: Session, services: Services, user: User, ids: list[int]
) -> list[ApprovalPreview]:
    today = services.clock().date()
    return preview_approvals(session, ids, user, services.schedule, today)


def _button_text(approvable: list[ApprovalPreview]) -> str:
    """ "Destroy 2 records and transfer 1 record": the warning button says what it does."""
    parts = []
    for verb in ("destroy", "transfer"):
        number = sum(1 for p in approvable if p.disposition.action == verb)
        if number:
            parts.append(f"{verb} {number} record{'' if number == 1 else 's'}")
    text = " and ".join(parts)
    return text[:1].upper() + text[1:]


def _confirm_page(
    request: Request,
    services: Services,
    user: User,
    previews: list[ApprovalPreview],
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    approvable = [p for p in previews if p.refusal is None]
    context = {
        "approvable": approvable,
        "refused": [p for p in previews if p.refusal is not None],
        "type_names": {
            p.record_type: type_label(services.schedule, p.record_type) for p in previews
        },
        "button_text": _button_text(approvable),
        "form": form or {},
        "errors": errors or {},
    }
    status = 422 if errors else 200
    return render(request, "retention_confirm.html", context, user=user, status_code=status)


@router.get("/confirm")
def confirm(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    user: SignedInRetentionManager,
    ids: Annotated[DbIds, Query(alias="id")] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """What approving the chosen dispositions would destroy or transfer, to confirm."""
    return _confirm_page(request, services, user, _previews(session, services, user, ids))


@router.post("/approve")
def approve(
    request: Request,
    services: ServicesDep,
    user: SignedInRetentionManager,
    ids: Annotated[DbIds, Form(alias="id")] = [],  # noqa: B006 (FastAPI copies defaults)
    reason: Annotated[FormReason, Form()] = "",
) -> Response:
    """Approve and carry out each confirmed disposition, each audited on its own."""
    with read_scope(services.engine) as session:
        previews = _previews(session, services, user, ids)
    if len(reason.strip()) < 3:
        form = {"reason": reason}
        return _confirm_page(request, services, user, previews, form, {"reason": REASON_MESSAGE})
    outcomes = approve_many(
        services.disposal_context(), previews, reason=reason.strip(), actor=user
    )
    _report(request, outcomes)
    return redirect("/retention/dispositions")


def _report(request: Request, outcomes: list[ApprovalOutcome]) -> None:
    done = [o for o in outcomes if o.status == "executed"]
    if done:
        names = ", ".join(o.title for o in done)
        count = f"{len(done)} disposal{'' if len(done) == 1 else 's'}"
        flash(request, f"{count} approved and carried out: {names}.")
    for outcome in outcomes:
        if outcome.status == "approved":
            flash(
                request,
                f"{outcome.title}: approved, but not yet carried out: {outcome.error}",
                "error",
            )
        elif outcome.status is None:
            flash(request, f"{outcome.title}: not approved. {outcome.error}", "error")
    if not outcomes:
        flash(request, "Nothing was approved: choose at least one disposal.", "error")
