"""What the browser tests' servers are seeded with before they start: people who sign
in with the test password, the helpline contract and the old advocacy pilot, and
records on the pilot's file, long past their retention."""

from __future__ import annotations

from pathlib import Path

from records_service.auth.service import add_user, get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.records.capture import capture_record
from records_service.records.models import Record
from records_service.records.schemas import RecordMetadata
from records_service.runtime.services import Services
from web.signin import password_hash

CONTRACT = "OPCC-2023-014"
OLD_CONTRACT = "OPCC-2014-002"


def add_people(services: Services, roles: dict[str, str]) -> None:
    """One user per name, with the role given, each signing in with the test password."""
    with session_scope(services.engine) as session:
        for name, role in roles.items():
            user = add_user(session, username=name, roles=[role], clock=services.clock)
            user.password_hash = password_hash()


def open_contracts(services: Services, **helpline: object) -> None:
    """As rob: the helpline, active since April 2023 (with ``helpline``'s further
    details), and the advocacy pilot, closed in 2015."""
    with session_scope(services.engine) as session:
        rob = get_user(session, "rob")
        for data in (
            ContractCreate.model_validate(
                {
                    "reference": CONTRACT,
                    "title": "Domestic abuse helpline",
                    "status": "active",
                    "start_date": "2023-04-01",
                    "end_date": "2026-03-31",
                    **helpline,
                }
            ),
            ContractCreate(
                reference=OLD_CONTRACT,
                title="Victim advocacy pilot",
                status="closed",
                start_date="2012-04-01",
                end_date="2015-03-31",
                closed_on="2015-03-31",
            ),
        ):
            create_contract(session, data=data, actor=rob, clock=services.clock)


def capture_pilot_record(services: Services, path: Path, title: str, text: str) -> Record:
    """As rob: a specification on the pilot's file, dated January 2012, written to ``path``
    with ``text`` and captured from there."""
    meta = RecordMetadata(
        title=title,
        record_type="specification",
        contract=OLD_CONTRACT,
        record_date="2012-01-10",
    )
    path.write_text(text)
    with session_scope(services.engine) as session:
        rob = get_user(session, "rob")
    with path.open("rb") as source:
        record, _ = capture_record(
            services.capture_context(), meta=meta, source=source, filename=path.name, actor=rob
        )
    return record
