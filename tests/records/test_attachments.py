"""Attachments of .msg and .eml messages become records of their own, through the normal
capture path, inheriting the message's details, linked to it, audited, found by search,
and taken exactly once even when the work is cut short and run again."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from factories import Actors, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.records.models import PendingSplit, Record, RecordPart, Version, VersionText
from records_service.records.parts import split_pending
from records_service.runtime.services import Services
from support.faults import FaultyStore
from support.outlook import AttachedMessage, Attachment, msg_bytes

FIXTURES = Path(__file__).parent.parent / "fixtures"
CONTRACT_TEXT = b"Contract for the domestic abuse helpline on Kestrel terms.\n"
SCHEDULE_TEXT = b"service,value\nOsprey outreach,4500000\n"


def _signed_contract_msg() -> bytes:
    return msg_bytes(
        subject="Helpline contract signed",
        sender=("Jo Bloggs", "jo@provider.example"),
        to=("Commissioning Team", "commissioning@opcc.example"),
        body="Please find the signed contract and its schedule attached.",
        sent=datetime(2016, 9, 1, 10, 0, tzinfo=UTC),
        attachments=[
            Attachment("signed contract.txt", CONTRACT_TEXT, "text/plain"),
            Attachment("schedule.csv", SCHEDULE_TEXT, "text/csv"),
        ],
    )


def _parts(services: Services, message_id: str) -> list[Record]:
    with Session(services.engine) as session:
        return list(
            session.exec(
                select(Record)
                .join(RecordPart, col(RecordPart.part_record_id) == col(Record.id))
                .where(RecordPart.whole_record_id == message_id)
                .order_by(col(RecordPart.position))
            )
        )


def _audit(services: Services, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    with Session(services.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.subject == subject).order_by(col(AuditEntry.idx))
        )
        return [(e.action, e.actor, json.loads(e.details)) for e in rows]


def _hits(client: TestClient, headers: dict[str, str], q: str) -> list[str]:
    response = client.get("/api/search", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return [hit["record_id"] for hit in response.json()["hits"]]


def test_msg_attachments_become_linked_searchable_records_once(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    created = capture(
        client,
        actors.staff,
        content=_signed_contract_msg(),
        filename="Helpline contract signed.msg",
        title="E-mail: helpline contract signed",
        record_type="contract",
        classification="OFFICIAL-SENSITIVE",
        record_date="2016-09-01",
    )
    assert created.status_code == 201, created.text
    message = created.json()
    assert message["versions"][0]["media_type"] == "application/vnd.ms-outlook"

    # The second attachment's upload fails (the injected fault), as if the worker
    # stopped there: the first is a record, the message stays queued.
    faulty = FaultyStore(services.store, fail_put_on=2)
    ctx = dataclasses.replace(services.capture_context(), store=faulty)
    assert split_pending(ctx) == 0
    assert [r.title for r in _parts(services, message["id"])] == ["signed contract.txt"]

    assert split_pending(services.capture_context()) == 1
    assert split_pending(services.capture_context()) == 0
    parts = _parts(services, message["id"])
    assert [r.title for r in parts] == ["signed contract.txt", "schedule.csv"]
    with Session(services.engine) as session:
        assert session.exec(select(PendingSplit)).all() == []
        assert len(session.exec(select(Record)).all()) == 3

    contract = client.get(f"/api/records/{parts[0].id}", headers=actors.staff).json()
    inherited = ("record_type", "contract", "classification", "record_date", "tags", "originator")
    assert {k: contract[k] for k in inherited} == {k: message[k] for k in inherited}
    assert contract["captured_by"] == "sam"
    content = client.get(f"/api/records/{parts[0].id}/content", headers=actors.staff)
    assert content.content == CONTRACT_TEXT

    assert [(a, who) for a, who, _ in _audit(services, f"record:{parts[0].id}")] == [
        ("record.capture", "sam"),
        ("record.part", "sam"),
        ("record.read", "sam"),  # the download above
    ]
    part_entry = _audit(services, f"record:{parts[1].id}")[1][2]
    assert part_entry == {
        "message": message["id"],
        "message_version": 1,
        "position": 1,
        "filename": "schedule.csv",
    }

    services.run_background_once()
    assert _hits(client, actors.staff, "kestrel") == [parts[0].id]
    assert _hits(client, actors.staff, "osprey") == [parts[1].id]
    # Sensitive like its message: hidden from another member of staff.
    assert _hits(client, actors.staff2, "kestrel") == []


def test_eml_attachments_become_records_in_the_background(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    eml = (FIXTURES / "helpline-referral.eml").read_bytes()
    message = capture(client, actors.staff, content=eml, filename="referral.eml").json()
    services.run_background_once()
    parts = _parts(services, message["id"])
    assert [r.title for r in parts] == ["helpline-q1-report.pdf"]
    part = client.get(f"/api/records/{parts[0].id}", headers=actors.staff).json()
    assert part["versions"][0]["media_type"] == "application/pdf"
    assert part["contract"] == "OPCC-2023-014"


def test_attachment_names_are_made_safe_for_capture() -> None:
    from records_service.records.content import clean_filename
    from records_service.records.parts import part_filename

    cases = {
        ("..\\..\\windows\\contract.pdf", 0): "contract.pdf",
        ("/etc/passwd", 1): "passwd",
        ("q2\u202ereturn\x07.pdf", 2): "q2return.pdf",
        ("", 3): "attachment-4",
        ("..", 4): "attachment-5",
        ("a" * 300 + ".docx", 5): "a" * 250 + ".docx",
    }
    for (raw, position), expected in cases.items():
        assert part_filename(raw, position) == expected
        assert clean_filename(expected) == expected


def test_an_outlook_item_attached_whole_becomes_a_message_record_with_its_own_parts(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    forwarded = AttachedMessage(
        subject="Draft contract for review",
        sender=("Al Provider", "al@provider.example"),
        to=("Jo Bloggs", "jo@provider.example"),
        body="The draft is attached.",
        sent=datetime(2016, 8, 1, 9, 0, tzinfo=UTC),
        attachments=[Attachment("draft contract.txt", CONTRACT_TEXT, "text/plain")],
    )
    outer = msg_bytes(
        subject="Fwd: draft contract",
        sender=("Jo Bloggs", "jo@provider.example"),
        to=("Commissioning Team", "commissioning@opcc.example"),
        body="Forwarding the provider's draft, and the schedule.",
        sent=datetime(2016, 8, 2, 9, 0, tzinfo=UTC),
        attachments=[forwarded, Attachment("schedule.csv", SCHEDULE_TEXT, "text/csv")],
    )
    created = capture(client, actors.staff, content=outer, filename="Fwd draft.msg")
    assert created.status_code == 201, created.text
    message_id = created.json()["id"]

    # The message's own parts first; the attached item's parts when it is captured.
    assert split_pending(services.capture_context()) == 1
    parts = _parts(services, message_id)
    assert [r.title for r in parts] == ["schedule.csv", "Draft contract for review.msg"]
    assert split_pending(services.capture_context()) == 1
    assert split_pending(services.capture_context()) == 0
    inner = client.get(f"/api/records/{parts[1].id}", headers=actors.staff).json()
    assert inner["versions"][0]["media_type"] == "application/vnd.ms-outlook"
    assert inner["part_of"] == {"id": message_id, "title": created.json()["title"]}
    assert [p["title"] for p in inner["parts"]] == ["draft contract.txt"]
    with Session(services.engine) as session:
        places = session.exec(
            select(RecordPart.position).where(RecordPart.whole_record_id == message_id)
        ).all()
    # The file keeps the place it had among the parts before attached items were taken.
    assert sorted(places) == [0, 1]

    services.run_background_once()
    draft_id = inner["parts"][0]["id"]
    assert _hits(client, actors.staff, "kestrel") == [draft_id]
    assert _hits(client, actors.staff, "forwarding") == [message_id]
    text = _text(services, parts[1].id)
    assert "Subject: Draft contract for review" in text
    assert "Attachments: draft contract.txt" in text
    assert "Attachments: schedule.csv, Draft contract for review.msg" in _text(services, message_id)


def _text(services: Services, record_id: str) -> str:
    with Session(services.engine) as session:
        text = session.exec(
            select(VersionText.text)
            .join(Version, col(Version.id) == col(VersionText.version_id))
            .where(Version.record_id == record_id)
        ).one()
    return text
