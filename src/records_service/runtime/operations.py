"""Work the API and the web pages start the same way on the running services.

A route of either face authenticates the caller and reads its input its own way, then
hands over here, so what the work needs from the services (the store, the replica,
the schedule, the clock) is gathered in one place: opening a version's bytes (the
read audited in a transaction that commits before a byte is served) and a retention
run started by a person.
"""

from __future__ import annotations

from collections.abc import Iterator

from records_service.auth.models import User
from records_service.db import session_scope
from records_service.records.models import Version
from records_service.records.service import open_content
from records_service.retention.job import RunReport, run_retention
from records_service.retention.schemas import RunRequest
from records_service.runtime.services import Services


def open_version(
    services: Services, *, record_id: str, number: int | None, actor: User
) -> tuple[Version, Iterator[bytes]]:
    """A version of a record ``actor`` may read (the current one for ``None``) and its
    bytes, from the replica if the primary copy fails; the read is audited first."""
    with session_scope(services.engine) as session:
        return open_content(
            session,
            services.store,
            record_id=record_id,
            number=number,
            actor=actor,
            clock=services.clock,
            replica=services.replica,
        )


def run_retention_now(services: Services, actor: User, request: RunRequest) -> RunReport:
    """Run the retention job now, as ``actor`` (who then cannot approve its proposals)."""
    return run_retention(
        engine=services.engine,
        store=services.store,
        schedule=services.schedule,
        settings=services.settings,
        actor=actor.username,
        clock=services.clock,
        at=request.at,
        dry_run=request.dry_run,
        replica=services.replica,
    )
