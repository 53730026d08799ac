"""The audit API: entries, the latest checkpoint, proofs that verify against it, the
public key, and a record's history, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from factories import Actors, FixedClock, assert_problem, capture, create_contract
from records_service.audit.keys import current_verifier_key, ensure_signing_key
from records_service.audit.log import canonical_entry
from records_service.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from records_service.audit.models import AuditEntry
from records_service.audit.writer import writer_for
from records_service.runtime.services import Services


def sign(services: Services) -> int:
    ensure_signing_key(services.settings)
    writer = writer_for(
        services.settings, engine=services.engine, store=services.store, clock=services.clock
    )
    written = writer.publish()
    assert written is not None
    return written.tree_size


def entries(client: TestClient, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/audit/entries{query}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_reading_the_log_needs_the_audit_permission(client: TestClient, actors: Actors) -> None:
    for allowed in (actors.auditor, actors.records_manager, actors.admin):
        assert client.get("/api/audit/entries", headers=allowed).status_code == 200
    for denied in (actors.staff, actors.reviewer):
        for path in ("/api/audit/entries", "/api/audit/checkpoint", "/api/audit/entries/0/proof"):
            assert_problem(client.get(path, headers=denied), 403)
    assert_problem(client.get("/api/audit/consistency?first=0&second=1"), 401)


def test_entries_filters_and_pages(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    create_contract(client, actors.staff)
    clock.advance(hours=1)
    first = capture(client, actors.staff).json()
    clock.advance(hours=1)
    second = capture(client, actors.staff2, title="Second").json()
    client.get(f"/api/records/{first['id']}/content", headers=actors.reviewer)
    captures = entries(client, actors.auditor, "?action=record.capture")
    assert captures["total"] == 2
    assert [e["subject"] for e in captures["items"]] == [
        f"record:{first['id']}",
        f"record:{second['id']}",
    ]
    assert captures["items"][0]["details"]["title"] == "Needs assessment 2023"
    about_first = entries(client, actors.auditor, f"?subject=record:{first['id']}")
    assert [e["action"] for e in about_first["items"]] == ["record.capture", "record.read"]
    assert entries(client, actors.auditor, "?actor=sue&action=record.capture")["total"] == 1
    since = "2026-06-15T10:00:00Z"
    until = "2026-06-15T11:00:00Z"
    window = entries(client, actors.auditor, f"?from={since}&to={until}&action=record.capture")
    assert [e["subject"] for e in window["items"]] == [f"record:{first['id']}"]
    everything = entries(client, actors.auditor, "?page_size=200")
    page = entries(client, actors.auditor, "?page_size=2&page=2")
    assert page["total"] == everything["total"]
    assert page["items"] == everything["items"][2:4]
    with Session(services.engine) as session:
        for item in everything["items"]:
            entry = session.get(AuditEntry, item["index"])
            assert entry is not None
            assert item["leaf_hash"] == leaf_hash(canonical_entry(entry)).hex()
    shred = "/api/audit/entries?action=record.shred"
    assert_problem(client.get(shred, headers=actors.auditor), 422)
    backwards = f"/api/audit/entries?from={until}&to={since}"
    assert_problem(client.get(backwards, headers=actors.auditor), 422)


def test_checkpoint_and_proofs_verify(
    client: TestClient, actors: Actors, services: Services
) -> None:
    assert_problem(client.get("/api/audit/checkpoint", headers=actors.auditor), 404)
    create_contract(client, actors.staff)
    first_size = sign(services)
    for n in range(3):
        capture(client, actors.staff, title=f"Return {n}")
    size = sign(services)
    checkpoint = client.get("/api/audit/checkpoint", headers=actors.auditor).json()
    assert checkpoint["tree_size"] == size and checkpoint["origin"] == "records-service"
    assert checkpoint["key_names"] == ["records-service"]
    assert checkpoint["storage_key"] == f"audit/checkpoints/{size:020d}.note"
    assert checkpoint["note"].startswith(f"records-service\n{size}\n")
    signed_root = bytes.fromhex(checkpoint["root_hash"])
    for index in range(size):
        body = client.get(
            f"/api/audit/entries/{index}/proof?tree_size={size}", headers=actors.auditor
        ).json()
        proof = [bytes.fromhex(p) for p in body["proof"]]
        assert body["root_hash"] == checkpoint["root_hash"]
        assert verify_inclusion(bytes.fromhex(body["leaf_hash"]), index, size, proof, signed_root)
    latest = client.get("/api/audit/entries/0/proof", headers=actors.auditor).json()
    assert latest["tree_size"] == size, "defaults to the whole log"
    consistency = client.get(
        f"/api/audit/consistency?first={first_size}&second={size}", headers=actors.auditor
    ).json()
    assert verify_consistency(
        first_size,
        size,
        bytes.fromhex(consistency["first_root"]),
        signed_root,
        [bytes.fromhex(p) for p in consistency["proof"]],
    )


def test_bad_proof_parameters_are_problems(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    size = sign(services)
    bad = [
        f"/api/audit/entries/{size}/proof",
        f"/api/audit/entries/0/proof?tree_size={size + 1}",
        "/api/audit/entries/0/proof?tree_size=0",
        "/api/audit/entries/-1/proof",
        "/api/audit/entries/x/proof",
        f"/api/audit/consistency?first={size}&second={size - 1}",
        f"/api/audit/consistency?first=0&second={size + 5}",
        "/api/audit/consistency?first=-1&second=1",
        "/api/audit/consistency?first=1",
    ]
    for path in bad:
        assert_problem(client.get(path, headers=actors.auditor), 422)


def test_public_key_is_public(client: TestClient, services: Services) -> None:
    missing = assert_problem(client.get("/api/audit/public-key"), 503)
    assert "records-service init" in missing["detail"]
    ensure_signing_key(services.settings)
    body = client.get("/api/audit/public-key").json()
    assert body == {
        "key": current_verifier_key(services.settings),
        "previous_keys": [],
        "origin": "records-service",
    }
    assert body["key"].startswith("records-service+")


def test_record_history_comes_from_the_log(
    client: TestClient, actors: Actors, clock: FixedClock
) -> None:
    create_contract(client, actors.staff)
    record = capture(client, actors.staff, classification="OFFICIAL-SENSITIVE").json()
    path = f"/api/records/{record['id']}"
    client.get(f"{path}/content", headers=actors.reviewer)
    client.patch(path, json={"title": "Final", "reason": "signed off"}, headers=actors.staff)
    client.post(
        f"{path}/versions", files={"file": ("v2.txt", b"second version\n")}, headers=actors.staff
    )
    history = client.get(f"{path}/history", headers=actors.staff).json()
    assert [(e["action"], e["actor"]) for e in history["items"]] == [
        ("record.capture", "sam"),
        ("record.read", "rita"),
        ("record.update", "sam"),
        ("record.version", "sam"),
    ]
    assert history["items"][2]["details"]["changes"]["title"] == ["Needs assessment 2023", "Final"]
    assert client.get(f"{path}/history", headers=actors.reviewer).json()["total"] == 4
    assert_problem(client.get(f"{path}/history", headers=actors.staff2), 404)
    assert_problem(client.get("/api/records/nope/history", headers=actors.staff), 404)
