"""Reading the ``auth.failure`` entries back: how many there are, and how many
failures they stand for (the sum of their ``count``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from records_service.audit.models import AuditEntry


def failure_details(engine: Engine) -> list[dict[str, Any]]:
    """The details of every ``auth.failure`` entry, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "auth.failure")
            .order_by(col(AuditEntry.idx))
        )
        return [json.loads(row.details) for row in rows]


def failure_total(engine: Engine) -> int:
    """How many failures the log accounts for (an entry without ``count`` is one)."""
    return sum(int(details.get("count", 1)) for details in failure_details(engine))
