"""The application factory: ``create_app(settings)`` builds a FastAPI app whose
lifespan starts the services and stops them on shutdown.

It joins the two faces, the API and the web pages, with the request intake in front
of both. ``server_app`` is the factory each of ``serve``'s server processes imports
(see :mod:`records_service.runtime.serve`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from records_service import __version__
from records_service.api import (
    audit,
    contracts,
    finance,
    gaps,
    health,
    records,
    reports,
    retention,
    search,
    transparency,
    users,
)
from records_service.api.errors import install_error_handlers
from records_service.clock import Clock, system_clock
from records_service.intake import RequestIntake, spool_uploads_directly
from records_service.runtime import serve
from records_service.runtime.services import Services
from records_service.settings import Settings, load_settings
from records_service.web import mount_web

DESCRIPTION = """
Capture every contract document, specification, decision record and piece of
correspondence once; keep it unaltered for as long as the law requires; find it
in seconds; prove every action on it afterwards.

Every `/api` route needs `Authorization: Bearer <token>` (create one with
`records-service users add NAME --role ROLE`). Errors are
`application/problem+json` (RFC 9457).
"""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    background: bool | None = None,
    migrate: bool = True,
    checkpoint_wal: bool = True,
) -> FastAPI:
    """Build the app; services start in the lifespan, not here.

    ``background`` runs the background work in a thread of this process (by default
    when ``RECORDS_WORKERS__ENABLED`` and the mode is ``thread``); ``migrate=False``
    when the caller has applied the migrations already, as ``serve`` does;
    ``checkpoint_wal=False`` when ``serve``'s worker process checkpoints SQLite's log.
    """
    settings = settings or load_settings()
    workers = settings.workers
    if background is None:
        background = workers.enabled and workers.mode == "thread"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.start(
            settings, clock=clock, migrate=migrate, checkpoint_wal=checkpoint_wal
        )
        if background:
            services.start_worker()
        app.state.services = services
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="records-service", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(contracts.router)
    app.include_router(finance.router)
    app.include_router(transparency.router)
    app.include_router(gaps.router)
    app.include_router(search.router)
    app.include_router(records.router)
    app.include_router(retention.router)
    app.include_router(retention.record_router)
    app.include_router(reports.router)
    app.include_router(audit.router)
    app.include_router(users.router)
    # Before mount_web: a middleware added earlier runs inside one added later, and
    # the intake needs the session that mount_web's session middleware decodes.
    app.add_middleware(RequestIntake, max_upload_bytes=settings.max_upload_bytes)
    spool_uploads_directly()
    mount_web(app, settings)  # after the API's error handlers: it keeps them for /api
    return app


def server_app() -> FastAPI:
    """The app of one server process among several (uvicorn imports this factory)."""
    return serve.server_app(create_app)
