"""Work the API and the web pages start the same way on the running services.

A route of either face authenticates the caller and reads its input its own way, then
hands over here, so what the work needs from the services (the store, the replica,
the schedule, the clock) is gathered in one place: opening a version's bytes (the
read audited in a transaction that commits before a byte is served), a metadata
edit, recording and closing a known gap, and a retention run started by a person.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session

from records_service.auth.models import User
from records_service.db import session_scope
from records_service.records.models import Record, Version
from records_service.records.schemas import RecordUpdate
from records_service.records.service import open_content, update_record
from records_service.retention.job import RunReport, run_retention
from records_service.retention.known_gaps import close_gap, record_gap
from records_service.retention.schemas import GapClose, GapCreate, GapPublic, RunRequest
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


def edit_record(
    services: Services, session: Session, record_id: str, data: RecordUpdate, actor: User
) -> tuple[Record, bool]:
    """Change a record's metadata in ``session``; whether anything changed."""
    return update_record(
        session,
        record_id=record_id,
        data=data,
        actor=actor,
        record_types=services.record_types,
        clock=services.clock,
    )


def record_known_gap(
    services: Services, session: Session, reference: str, data: GapCreate, actor: User
) -> GapPublic:
    """Record a known gap in contract ``reference``'s file, in ``session``."""
    return record_gap(
        session,
        reference=reference,
        data=data,
        record_types=services.record_types,
        actor=actor,
        clock=services.clock,
    )


def close_known_gap(
    services: Services,
    session: Session,
    where: tuple[str, int],
    data: GapClose,
    actor: User,
) -> GapPublic:
    """Close gap ``where`` (contract reference, gap id) with the record found for it."""
    reference, gap_id = where
    return close_gap(
        session, reference=reference, gap_id=gap_id, data=data, actor=actor, clock=services.clock
    )
