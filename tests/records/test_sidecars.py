"""Sidecars: queued by the capture, written by the background worker, never lost."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime

from fastapi.testclient import TestClient
from sqlmodel import select

from factories import Actors, capture, create_contract
from records_service.db import read_scope, session_scope
from records_service.notes.queue import write_pending_notes
from records_service.records.models import PendingSidecar
from records_service.records.orphans import find_orphans
from records_service.records.sidecars import (
    change_note_record,
    drop_pending,
    pending_count,
    write_pending_sidecars,
)
from records_service.runtime.services import Services
from support.faults import FaultyStore


def _write(services: Services) -> int:
    return write_pending_sidecars(services.engine, services.store, mode="GOVERNANCE")


def _pending(services: Services) -> list[str]:
    with read_scope(services.engine) as session:
        return list(session.exec(select(PendingSidecar.storage_key)))


def test_the_worker_writes_what_the_capture_queued(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    record = capture(client, actors.staff, title="Helpline needs", tags="helpline,2024").json()
    key = f"records/{record['id']}/v1.json"
    assert _pending(services) == [key]
    assert not services.store.exists(key)
    health = client.get("/health").json()
    assert health["database"]["sidecars_pending"] == 1

    assert _write(services) == 1

    assert _pending(services) == []
    body = json.loads(b"".join(services.store.open(key)))
    version = record["versions"][0]
    details = body.pop("contract_details")
    assert body == {
        "format": 2,
        "record_id": record["id"],
        "version": 1,
        "title": "Helpline needs",
        "record_type": record["record_type"],
        "contract": record["contract"],
        "tags": ["helpline", "2024"],
        "classification": record["classification"],
        "originator": record["originator"],
        "record_date": record["record_date"],
        "sha256": version["sha256"],
        "size": version["size"],
        "media_type": version["media_type"],
        "filename": version["original_filename"],
        "captured_at": body["captured_at"],
        "captured_by": "sam",
    }
    assert body["captured_at"].startswith(record["captured_at"][:10])
    contract = client.get(f"/api/contracts/{record['contract']}", headers=actors.staff).json()
    times = ("created_at", "updated_at")
    assert {k: v for k, v in details.items() if k not in times} == {
        **{k: v for k, v in contract.items() if k not in times},
        "created_by": "sam",
        "updated_by": "sam",
    }
    for name in times:
        assert datetime.fromisoformat(details[name]) == datetime.fromisoformat(contract[name])
    assert client.get("/health").json()["database"]["sidecars_pending"] == 0
    assert _write(services) == 0


def test_a_sidecar_already_stored_counts_as_written(
    client: TestClient, actors: Actors, services: Services
) -> None:
    # As after a crash between the worker's write and its removal of the queue row.
    create_contract(client, actors.staff)
    record = capture(client, actors.staff).json()
    key = f"records/{record['id']}/v1.json"
    services.store.put(key, io.BytesIO(b'{"written": "before the crash"}'))

    assert _write(services) == 1

    assert _pending(services) == []
    assert b"".join(services.store.open(key)) == b'{"written": "before the crash"}'


def test_a_queued_sidecar_is_not_missing_but_a_lost_one_is(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    record = capture(client, actors.staff).json()
    assert find_orphans(services.engine, services.store).ok

    # The queue row gone without the sidecar written: the checker must say so.
    with read_scope(services.engine) as session:
        assert pending_count(session, record["id"]) == 1
    with session_scope(services.engine) as session:
        drop_pending(session, record["id"])
    report = find_orphans(services.engine, services.store)
    assert report.missing_objects == [f"records/{record['id']}/v1.json"]


def test_two_workers_on_one_queue_both_leave_the_sidecars_in_place(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    ids = [capture(client, actors.staff, title=f"Return {n}").json()["id"] for n in range(3)]
    inner_done: list[int] = []

    def other_worker_first(_key: str) -> None:
        # A second worker (its own thread) takes the whole queue while the first is
        # about to write.
        if not inner_done:
            other = threading.Thread(target=lambda: inner_done.append(_write(services)))
            other.start()
            other.join(timeout=30)

    racing = FaultyStore(services.store, before_put=other_worker_first)
    outer = write_pending_sidecars(services.engine, racing, mode="GOVERNANCE")

    assert inner_done == [3] and outer == 3  # the first finds them stored: written
    assert _pending(services) == []
    for record_id in ids:
        assert services.store.exists(f"records/{record_id}/v1.json")
    assert find_orphans(services.engine, services.store).ok


def test_an_edit_queues_one_change_note_with_the_metadata_after_it(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    record = capture(client, actors.staff, tags="helpline").json()
    path = f"/api/records/{record['id']}"
    body = {"reason": "typo in the title", "title": "Helpline needs", "tags": ["a", "b"]}
    assert client.patch(path, json=body, headers=actors.staff).status_code == 200
    same = {"reason": "no change at all", "title": "Helpline needs"}
    assert client.patch(path, json=same, headers=actors.staff).status_code == 200

    [note_key] = [k for k in _pending(services) if "/changes/" in k]
    assert _write(services) == 2
    assert change_note_record(note_key) == record["id"]
    assert note_key.startswith(f"records/{record['id']}/changes/00000000-")
    note = json.loads(b"".join(services.store.open(note_key)))
    assert note["changes"] == [
        ["title", record["title"], "Helpline needs"],
        ["tags", ["helpline"], ["a", "b"]],
    ]
    assert (note["kind"], note["version"], note["sequence"]) == ("change", 1, 0)
    assert (note["title"], note["tags"], note["changed_by"]) == (
        "Helpline needs",
        ["a", "b"],
        "sam",
    )
    assert note["contract_details"]["reference"] == record["contract"]
    assert find_orphans(services.engine, services.store).ok


def test_health_counts_the_notes_waiting_to_be_written(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert client.get("/health").json()["database"]["notes_pending"] == 0
    create_contract(client, actors.staff)  # a contract note is queued with it
    assert client.get("/health").json()["database"]["notes_pending"] == 1

    assert write_pending_notes(services.engine, services.store, retain_years=1) == 1

    assert client.get("/health").json()["database"]["notes_pending"] == 0
