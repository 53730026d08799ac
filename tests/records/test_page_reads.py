"""The record reads the web pages make through the records service, on both databases.

The dashboard, a contract's file and the dispositions list show records through
these functions; each must leave out what the visibility rule hides. Showing a
version's extracted text is a read of its content and is audited once, as a
download is. An edit says whether it changed anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from factories import Actors, FixedClock, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.auth.models import User
from records_service.auth.service import get_user
from records_service.contracts.service import get_contract, references_by_id
from records_service.db import read_scope, session_scope
from records_service.records.models import MetadataChange
from records_service.records.schemas import RecordUpdate
from records_service.records.service import (
    captured_by,
    contract_records,
    find_version,
    get_record,
    read_extracted_text,
    recent_captures,
    record_labels,
    update_record,
)
from records_service.runtime.services import Services

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _people(session: Session) -> tuple[User, User, User]:
    return get_user(session, "sam"), get_user(session, "sue"), get_user(session, "rita")


def _two_records(client: TestClient, actors: Actors) -> tuple[str, str]:
    """An official record and a sensitive one, both captured by sam on the contract."""
    assert create_contract(client, actors.staff).status_code == 201
    official = capture(client, actors.staff, title="Open minutes").json()["id"]
    secret = capture(
        client, actors.staff, title="Referral", classification="OFFICIAL-SENSITIVE"
    ).json()["id"]
    return official, secret


def test_page_reads_leave_out_what_the_reader_may_not_see(
    client: TestClient, services: Services, actors: Actors
) -> None:
    official, secret = _two_records(client, actors)
    with read_scope(services.engine) as session:
        sam, sue, rita = _people(session)
        contract = get_contract(session, "OPCC-2023-014")
        for reader, expected in ((sue, {official}), (rita, {official, secret})):
            assert {r.id for r in recent_captures(session, reader, 10)} == expected
            assert {r.id for r in contract_records(session, contract.id, reader)} == expected
            labels = record_labels(session, [official, secret], reader)
            assert set(labels) == expected
        assert record_labels(session, [official], rita)[official] == (
            "Open minutes",
            "needs_assessment",
        )
        # Whoever captured a sensitive record sees it among their own.
        assert {r.id for r in captured_by(session, sam, 10)} == {official, secret}
        assert captured_by(session, sue, 10) == []
        assert contract_records(session, None, rita) == []
        assert record_labels(session, [], rita) == {}
        assert references_by_id(session, {contract.id or 0, 4242}) == {contract.id: "OPCC-2023-014"}


def test_recent_captures_come_newest_first_and_are_bounded(
    client: TestClient, services: Services, actors: Actors, clock: FixedClock
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    ids: list[str] = []
    for n in range(3):
        ids.append(capture(client, actors.staff, title=f"Return {n}").json()["id"])
        clock.advance(minutes=1)
    with read_scope(services.engine) as session:
        rita = get_user(session, "rita")
        assert [r.id for r in recent_captures(session, rita, 2)] == [ids[2], ids[1]]


def _reads(session: Session, record_id: str) -> int:
    statement = select(AuditEntry).where(
        AuditEntry.action == "record.read", AuditEntry.subject == f"record:{record_id}"
    )
    return len(session.exec(statement).all())


def _shown_text(services: Services, record_id: str) -> str | None:
    """What the record page's preview of the current version shows sam as text."""
    with session_scope(services.engine) as session:
        sam = get_user(session, "sam")
        record = get_record(session, record_id, sam)
        version = find_version(session, record, None)
        return read_extracted_text(
            session, record=record, version=version, actor=sam, clock=services.clock
        )


@pytest.mark.parametrize(
    ("fixture", "shown", "reads"),
    [("commissioning-plan.docx", "Restorative justice pathway", 1), ("no-text.pdf", None, 0)],
)
def test_showing_extracted_text_is_audited_as_a_read(
    client: TestClient,
    services: Services,
    actors: Actors,
    fixture: str,
    shown: str | None,
    reads: int,
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    content = (FIXTURES / fixture).read_bytes()
    record_id = capture(client, actors.staff, content=content, filename=fixture).json()["id"]
    services.run_background_once()  # extracts the text
    text = _shown_text(services, record_id)
    # No text shown, no read recorded.
    assert (text is None) if shown is None else (text is not None and shown in text)
    with read_scope(services.engine) as session:
        assert _reads(session, record_id) == reads


def _edit(services: Services, record_id: str, **fields: object) -> bool:
    with session_scope(services.engine) as session:
        _, changed = update_record(
            session,
            record_id=record_id,
            data=RecordUpdate.model_validate({"reason": "checking", **fields}),
            actor=get_user(session, "sam"),
            record_types=services.record_types,
            clock=services.clock,
        )
    return changed


def test_an_edit_says_whether_it_changed_anything(
    client: TestClient, services: Services, actors: Actors
) -> None:
    official, _ = _two_records(client, actors)
    assert _edit(services, official, title="Open minutes", tags=["Helpline", "victims"]) is False
    with read_scope(services.engine) as session:
        assert session.exec(select(MetadataChange)).all() == []
    assert _edit(services, official, title="Open minutes (final)") is True
    with read_scope(services.engine) as session:
        assert [c.field for c in session.exec(select(MetadataChange))] == ["title"]
