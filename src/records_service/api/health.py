"""``GET /health``: is the service able to serve, and how far behind is background work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from records_service.db import read_scope
from records_service.notes.queue import pending_count as notes_pending
from records_service.records.models import TextStatus, Version
from records_service.records.replica import waiting_since
from records_service.records.sidecars import pending_count
from records_service.runtime.requests import ServicesDep
from records_service.search.feed import index_lag
from records_service.search.progress import read_progress
from records_service.storage import StorageError

router = APIRouter(tags=["health"])


def _database(services: ServicesDep) -> dict[str, Any]:
    try:
        with read_scope(services.engine) as session:
            session.execute(text("SELECT 1"))
            pending = session.exec(
                select(func.count()).where(Version.text_status == TextStatus.PENDING.value)
            ).one()
            sidecars = pending_count(session)
            notes = notes_pending(session)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "dialect": services.engine.dialect.name,
        "extraction_pending": int(pending),
        "sidecars_pending": sidecars,
        "notes_pending": notes,
    }


def _index(services: ServicesDep) -> dict[str, Any]:
    # Lag is reported, not judged: search keeps answering while the queue drains.
    try:
        with read_scope(services.engine) as session:
            lag = index_lag(session, services.clock())
        stats = services.index.stats() if services.index is not None else None
        progress = read_progress(services.settings.index_path)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": stats is not None,
        "pending": lag.pending,
        "oldest_pending_seconds": lag.oldest_seconds,
        "documents": stats.doc_count if stats else None,
        "needs_rebuild": stats.needs_rebuild if stats else None,
        "rebuilding": bool(
            (stats and stats.rebuilding) or (services.index_feed and services.index_feed.rebuilding)
        ),
        "engine": stats.engine if stats else None,
        "answering_from": stats.answering_from if stats and stats.answering_from else None,
        "rebuild": progress.summary() if progress else None,
    }


def _storage(services: ServicesDep) -> dict[str, Any]:
    try:
        services.store.check_ready()
    except StorageError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "backend": services.settings.storage.backend}


def _replica(services: ServicesDep) -> dict[str, Any]:
    # Reported, not judged: the service serves from its primary store without it.
    if services.replica is None:
        return {"ok": True, "backend": "off"}
    try:
        with read_scope(services.engine) as session:
            waiting = waiting_since(session)
        services.replica.check_ready()
    except (StorageError, SQLAlchemyError) as exc:
        return {"ok": False, "error": str(exc)}
    oldest = min(waiting.values(), default=None)
    return {
        "ok": True,
        "backend": services.settings.replica.backend,
        "records_pending": len(waiting),
        "oldest_pending_seconds": (
            round((services.clock() - oldest).total_seconds(), 1) if oldest else None
        ),
    }


@router.get(
    "/health",
    responses={
        503: {
            "description": "A part is not ready; the body says which.",
            "content": {"application/json": {}},
        }
    },
)
def health(services: ServicesDep) -> JSONResponse:
    """Readiness of the database and the blob store, with background-work lag; the
    replica's state is reported beside them (it does not decide readiness)."""
    body: dict[str, Any] = {"database": _database(services), "storage": _storage(services)}
    body["index"] = _index(services)
    ok = all(part["ok"] for part in body.values())
    body["replica"] = _replica(services)
    body["status"] = "ok" if ok else "unavailable"
    return JSONResponse(body, status_code=200 if ok else 503)
