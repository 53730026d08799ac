"""Recovering the catalogue from the blob store alone (``records-service recover --from-store``).

The drills build an archive through the real API (captures, new versions, edits,
tags, a disposal), lose the database (for an empty one, or for a copy taken
earlier), run the real command, and compare what the API then answers with what
it answered before, field by field, and the content byte for byte.
"""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from factories import (
    Actors,
    FixedClock,
    capture,
    create_contract,
    make_actors,
    make_settings,
    make_user,
    s3_storage_settings,
)
from records_service.app import create_app
from records_service.audit.keys import ensure_signing_key
from records_service.audit.models import AuditEntry
from records_service.auth.service import get_user, list_tokens
from records_service.cli import main
from records_service.db import read_scope
from records_service.notes.queue import write_pending_notes
from records_service.records.models import Record
from records_service.records.sidecars import write_pending_sidecars
from records_service.runtime.recovery import recover_from_store
from records_service.runtime.services import Services
from records_service.settings import Settings
from records_service.storage import BlobStore
from retention.casefiles import approve_the_proposal, closed_2019, dispositions
from support.faults import FaultyStore
from support.retention import run_retention_as_system

CONTRACT = "OPCC-2023-014"


def cli(settings: Settings, *args: str) -> Result:
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def recover(settings: Settings, report: Path, *extra: str) -> tuple[Result, dict[str, Any]]:
    result = cli(settings, "recover", "--from-store", "--report", str(report), "--quiet", *extra)
    return result, json.loads(report.read_text())


@contextmanager
def app_on(settings: Settings, clock: FixedClock) -> Iterator[tuple[TestClient, Services]]:
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        yield client, client.app.state.services  # type: ignore[attr-defined]


def drain(services: Services) -> None:
    """Write the queued sidecars, change notes and other notes (text extraction, which
    costs a process per document, is left pending on both sides of each comparison)."""
    write_pending_sidecars(services.engine, services.store, mode="GOVERNANCE", limit=1000)
    write_pending_notes(services.engine, services.store, retain_years=1, limit=1000)


def build_archive(client: TestClient, actors: Actors, clock: FixedClock) -> dict[str, str]:
    """Records of every kind of history; returns their ids by name."""
    assert create_contract(client, actors.staff).status_code == 201
    clock.advance(minutes=1)
    a = capture(client, actors.staff, content=b"assessment, first draft\n").json()["id"]
    clock.advance(minutes=1)
    added = client.post(
        f"/api/records/{a}/versions", files={"file": ("v2.txt", b"final\n")}, headers=actors.staff
    )
    assert added.status_code == 201, added.text
    clock.advance(minutes=1)
    changed = client.patch(
        f"/api/contracts/{CONTRACT}", json={"title": "Helpline, renamed"}, headers=actors.staff
    )
    assert changed.status_code == 200, changed.text
    edit(client, actors.staff, a, title="Needs assessment (final)", tags=["victims", "final"])
    b = capture(
        client,
        actors.staff2,
        content=b"sensitive minutes\n",
        contract=None,
        classification="OFFICIAL-SENSITIVE",
    ).json()["id"]
    clock.advance(minutes=1)
    edit(client, actors.staff2, b, record_date="2023-02-01")
    clock.advance(minutes=1)
    edit(client, actors.staff2, b, originator="Board", tags=["minutes"], record_type="contract")
    return {"a": a, "b": b}


def contract_work(client: TestClient, headers: dict[str, str], unfiled: str) -> None:
    """Create a contract no record is filed under, then edit it and ``CONTRACT`` (after
    the last capture or edit of a record filed under it): only contract notes keep these."""
    assert create_contract(client, headers, reference=unfiled, title="Unfiled").status_code == 201
    for reference, change in ((unfiled, {"provider": "Safe Homes"}), (CONTRACT, {"owner": "Jo"})):
        changed = client.patch(f"/api/contracts/{reference}", json=change, headers=headers)
        assert changed.status_code == 200, changed.text


def place_hold(client: TestClient, headers: dict[str, str], reference: str, **on: str) -> int:
    """Place a hold on a record (``record_id=``) or contract (``contract=``); its id."""
    body = {"reference": reference, "reason": "information request received", **on}
    placed = client.post("/api/retention/holds", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    return int(placed.json()["id"])


def release_hold(client: TestClient, headers: dict[str, str], hold_id: int) -> None:
    body = {"reason": "request answered"}
    released = client.post(f"/api/retention/holds/{hold_id}/release", json=body, headers=headers)
    assert released.status_code == 200, released.text


def holds(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every hold, active or released, as the API lists them (without their row ids)."""
    found = client.get("/api/retention/holds", params={"page_size": 100}, headers=headers)
    assert found.status_code == 200, found.text
    listed = sorted(found.json()["items"], key=lambda hold: hold["placed_at"] + hold["reference"])
    return [{k: v for k, v in hold.items() if k != "id"} for hold in listed]


def edit(client: TestClient, headers: dict[str, str], record_id: str, **fields: Any) -> None:
    body = {"reason": "corrected after review", **fields}
    response = client.patch(f"/api/records/{record_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text


def dispose_specification(
    client: TestClient, actors: Actors, services: Services, ids: dict[str, str]
) -> str:
    """Dispose of the specification of a contract closed in 2019; returns its id."""
    spec = ids["specification"]
    run_retention_as_system(services)
    approve_the_proposal(client, actors.records_manager, spec)
    return spec


def catalogue(client: TestClient, headers: dict[str, str], ids: list[str]) -> dict[str, Any]:
    """What the API says of each record (with its metadata changes) and of each contract."""
    seen: dict[str, Any] = {}
    for record_id in ids:
        record = client.get(f"/api/records/{record_id}", headers=headers)
        changes = client.get(f"/api/records/{record_id}/changes", headers=headers)
        assert record.status_code == 200 and changes.status_code == 200, record.text
        seen[record_id] = {"record": record.json(), "changes": changes.json()}
    contracts = client.get("/api/contracts", params={"page_size": 100}, headers=headers)
    seen["contracts"] = contracts.json()["items"]
    return seen


def disposed(client: TestClient, headers: dict[str, str], record_id: str) -> dict[str, Any]:
    """What the API says of a disposed record: the record, its tombstone and its
    disposition (without the row ids and user ids a rebuilt database numbers anew)."""
    record = client.get(f"/api/records/{record_id}", headers=headers)
    assert record.status_code == 200, record.text
    found = client.get("/api/retention/disposals", params={"page_size": 100}, headers=headers)
    [tombstone] = [d for d in found.json()["items"] if d["record_id"] == record_id]
    del tombstone["disposition_id"], tombstone["metadata"]["captured_by_id"]
    [disposition] = dispositions(client, headers, record_id=record_id)
    del disposition["id"]
    return {"record": record.json(), "disposal": tombstone, "disposition": disposition}


def no_way_in(services: Services, username: str) -> bool:
    """Whether nobody can sign in as ``username``: disabled, no password, no API token,
    and the least role."""
    with read_scope(services.engine) as session:
        user = get_user(session, username)
        return (
            user.disabled
            and user.roles == "staff"
            and user.password_hash is None
            and not list_tokens(session, username)
        )


def give_account_back(settings: Settings, client: TestClient, username: str) -> None:
    """An administrator sets a placeholder account up: refused while it is disabled, then
    enabled and given a token that works."""
    assert cli(settings, "users", "token", username).exit_code != 0
    assert cli(settings, "users", "enable", username).exit_code == 0
    issued = cli(settings, "users", "token", username)
    assert issued.exit_code == 0, issued.output
    token = {"Authorization": f"Bearer {issued.output.strip()}"}
    assert client.get("/api/records", headers=token).status_code == 200


def last_entries(services: Services, count: int) -> list[tuple[str, str, str]]:
    """(action, actor, subject) of the log's last ``count`` entries, oldest first."""
    with read_scope(services.engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.idx).desc()).limit(count))
        return [(e.action, e.actor, e.subject) for e in reversed(list(rows))]


def audit_end(audit: dict[str, Any]) -> int:
    """The last lost index of the acknowledgement in a report's audit part."""
    return int(audit["acknowledged_now"]["lost_to"])


def audit_trail(client: TestClient, headers: dict[str, str], ids: list[str]) -> dict[str, Any]:
    """The audit entries about each record."""
    return {
        record_id: client.get(f"/api/records/{record_id}/history", headers=headers).json()
        for record_id in ids
    }


def contents(store: BlobStore, record_ids: list[str]) -> dict[str, bytes]:
    return {
        key: b"".join(store.open(key))
        for record_id in record_ids
        for key in store.list(f"records/{record_id}/")
    }


def empty_database(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    """A new database: a file that does not exist yet, or an empty PostgreSQL database."""
    if db_url.startswith("sqlite"):
        (tmp_path / "lost").mkdir()
        return f"sqlite:///{tmp_path / 'lost' / 'records.db'}"
    return _pg_copy(request, "template0")


def backup(request: pytest.FixtureRequest, services: Services, db_url: str, tmp_path: Path) -> str:
    """A copy of the database as it is now, as a backup holds it."""
    if db_url.startswith("sqlite"):
        target = tmp_path / "backup" / "records.db"
        target.parent.mkdir()
        source = sqlite3.connect(str(make_url(db_url).database))
        copy = sqlite3.connect(target)
        with source, copy:
            source.backup(copy)
        source.close()
        copy.close()
        return f"sqlite:///{target}"
    services.engine.dispose()  # a template must have no other connection
    return _pg_copy(request, str(make_url(db_url).database))


def _pg_copy(request: pytest.FixtureRequest, template: str) -> str:
    server = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    request.addfinalizer(lambda: server.drop_database(name))
    return str(server.url(name))


def on(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"database_url": url})


@dataclass
class Archive:
    """An archive built through the API on the parametrised database (``build_archive``
    and a file closed in 2019), with the fixtures the drills use; signing key made."""

    request: pytest.FixtureRequest
    client: TestClient
    actors: Actors
    services: Services
    settings: Settings
    clock: FixedClock
    db_url: str
    tmp_path: Path
    ids: dict[str, str]
    closed: dict[str, str]

    def parts(self) -> tuple[TestClient, Actors, Services, Settings, FixedClock]:
        """The running installation: client, actors, services, settings, clock."""
        return self.client, self.actors, self.services, self.settings, self.clock


@pytest.fixture
def archive(
    request: pytest.FixtureRequest,
    client: TestClient,
    actors: Actors,
    services: Services,
    settings: Settings,
    clock: FixedClock,
    db_url: str,
    tmp_path: Path,
) -> Archive:
    ensure_signing_key(settings)
    ids = build_archive(client, actors, clock)
    closed = closed_2019(client, actors.staff, "OPCC-2017-028")
    return Archive(
        request, client, actors, services, settings, clock, db_url, tmp_path, ids, closed
    )


def test_an_empty_database_gets_the_catalogue_back_from_the_store(archive: Archive) -> None:
    client, actors, services, settings, clock = archive.parts()
    ids, closed, tmp_path = archive.ids, archive.closed, archive.tmp_path
    place_hold(client, actors.records_manager, "FOI-2026-0001", record_id=ids["b"])
    drain(services)
    assert cli(settings, "audit", "checkpoint").exit_code == 0  # what authenticates a bundle
    assert cli(settings, "audit", "export", str(tmp_path / "bundle")).exit_code == 0
    bundle_size = json.loads((tmp_path / "bundle" / "manifest.json").read_text())["tree_size"]
    spec = dispose_specification(client, actors, services, closed)
    contract_work(client, actors.staff, "OPCC-2024-900")
    answered = place_hold(client, actors.records_manager, "FOI-2026-0002", contract=CONTRACT)
    release_hold(client, actors.records_manager, answered)
    drain(services)
    assert cli(settings, "audit", "checkpoint").exit_code == 0
    kept = [ids["a"], ids["b"], *(i for i in closed.values() if i != spec)]
    before = catalogue(client, actors.admin, kept)
    was_disposed = disposed(client, actors.admin, spec)
    assert was_disposed["record"]["status"] == "disposed"
    held = holds(client, actors.admin)
    assert [h["active"] for h in held] == [True, False]
    trail = audit_trail(client, actors.admin, kept)
    stored = contents(services.store, kept)
    assert sum(len(before[i]["changes"]) for i in kept) == 6

    rebuilt = on(settings, empty_database(archive.request, archive.db_url, tmp_path))
    bundle = ("--audit-bundle", str(tmp_path / "bundle"))
    result, report = recover(rebuilt, tmp_path / "report.json", *bundle)

    assert result.exit_code == 0, result.output
    assert report["catalogue"]["records_added"] == len(kept)
    assert report["catalogue"]["not_in_store"] == []
    assert [(d["record_id"], d["added"]) for d in report["disposals"]] == [(spec, True)]
    assert f"  {spec}: disposed of on " in result.output
    assert report["catalogue"]["versions_added"] == len(kept) + 1
    assert report["catalogue"]["changes_added"] == 3
    assert report["catalogue"]["problems"] == []
    assert report["catalogue"]["names_found"] == ["sam", "sue"]
    assert report["catalogue"]["placeholders"] == ["sam", "sue"]
    added = ["OPCC-2017-028", CONTRACT, "OPCC-2024-900"]
    assert sorted(report["catalogue"]["contracts_added"]) == added
    assert report["catalogue"]["contracts_without_details"] == []
    assert report["holds"] == {
        "added": [f"FOI-2026-0001 on {ids['b']}", f"FOI-2026-0002 on {CONTRACT}"],
        "released": [],
    }
    audit = report["audit"]
    assert audit["entries_restored_from_bundles"] == bundle_size, audit
    assert audit["acknowledged_now"]["lost_from"] == bundle_size
    assert audit["lost"] and "were lost" in audit["lost"][0]
    assert "users: cannot be recovered; user names found in the store: sam, sue" in result.output
    assert f"audit entries LOST: entries {bundle_size} to" in result.output

    with app_on(rebuilt, clock) as (again, again_services):
        # The loss first, then an entry for each note applied, then the run's summary.
        assert last_entries(again_services, 5) == [
            ("audit.rollback_acknowledged", "recovery", f"audit:{bundle_size}-{audit_end(audit)}"),
            ("disposition.recover", "recovery", f"record:{spec}"),
            ("hold.recover", "recovery", f"record:{ids['b']}"),
            ("hold.recover", "recovery", f"contract:{CONTRACT}"),
            ("catalogue.recover", "recovery", "catalogue"),
        ]
        admin = make_user(again_services, "ada2", "admin")
        drain(again_services)
        after = catalogue(again, admin, kept)
        assert no_way_in(again_services, "sam") and no_way_in(again_services, "sue")

        give_account_back(rebuilt, again, "sue")
        trail_after = audit_trail(again, admin, kept)
        still_disposed = disposed(again, admin, spec)
        assert holds(again, admin) == held
        assert contents(again_services.store, kept) == stored
    assert after == before
    # Every entry about them was in the bundle; the hold brought back on b has its own.
    recovered_hold = trail_after[ids["b"]]["items"].pop()
    assert (recovered_hold["action"], recovered_hold["actor"]) == ("hold.recover", "recovery")
    assert recovered_hold["details"]["reference"] == "FOI-2026-0001"
    trail_after[ids["b"]]["total"] -= 1
    assert trail_after == trail
    assert still_disposed == was_disposed

    assert cli(rebuilt, "check").exit_code == 0
    fixity = cli(rebuilt, "retention", "run", "--fixity", "full", "--json")
    assert fixity.exit_code == 0 and json.loads(fixity.stdout)["fixity_failures"] == 0
    verified = cli(rebuilt, "audit", "verify", "--quiet")
    assert verified.exit_code == 0, verified.output
    assert f"entries {bundle_size} to" in verified.output

    second, again_report = recover(rebuilt, tmp_path / "again.json")
    assert second.exit_code == 0, second.output
    assert again_report["catalogue"]["records_added"] == 0
    assert again_report["catalogue"]["records_updated"] == 0
    assert again_report["catalogue"]["placeholders"] == []
    assert again_report["disposals"] == []
    assert again_report["catalogue"]["contracts_updated"] == []
    assert again_report["holds"] == {"added": [], "released": []}
    assert again_report["audit"]["log_size_after"] == again_report["audit"]["log_size_before"]


def test_a_database_restored_from_an_older_backup_gets_only_what_it_lacks(
    archive: Archive,
) -> None:
    client, actors, services, settings, clock = archive.parts()
    ids, closed, tmp_path = archive.ids, archive.closed, archive.tmp_path
    answered = place_hold(client, actors.records_manager, "FOI-2026-0002", contract=CONTRACT)
    drain(services)
    assert cli(settings, "audit", "checkpoint").exit_code == 0
    older = on(settings, backup(archive.request, services, archive.db_url, tmp_path))
    clock.advance(minutes=1)
    spec = dispose_specification(client, actors, services, closed)
    release_hold(client, actors.records_manager, answered)
    place_hold(client, actors.records_manager, "FOI-2026-0003", record_id=ids["a"])
    edit(client, actors.staff, ids["a"], title="Needs assessment (signed off)")
    added = client.post(
        f"/api/records/{ids['a']}/versions",
        files={"file": ("v3.txt", b"v3\n")},
        headers=actors.staff,
    )
    assert added.status_code == 201, added.text
    nina = make_user(services, "nina", "staff")
    contract_work(client, nina, "OPCC-2024-900")
    assert create_contract(client, nina, reference="OPCC-2024-001").status_code == 201
    c = capture(client, nina, content=b"new since the backup\n", contract="OPCC-2024-001")
    kept = [ids["a"], ids["b"], c.json()["id"]]
    drain(services)
    assert cli(settings, "audit", "checkpoint").exit_code == 0
    before = catalogue(client, actors.admin, kept)
    was_disposed = disposed(client, actors.admin, spec)
    held = holds(client, actors.admin)

    result, report = recover(older, tmp_path / "report.json")

    assert result.exit_code == 0, result.output
    assert [(d["record_id"], d["added"]) for d in report["disposals"]] == [(spec, False)]
    assert report["catalogue"]["not_in_store"] == []
    found = report["catalogue"]
    assert (found["records_added"], found["records_updated"]) == (1, 1)
    assert (found["versions_added"], found["changes_added"]) == (2, 1)
    assert found["placeholders"] == ["nina"]
    assert found["contracts_added"] == ["OPCC-2024-001", "OPCC-2024-900"]
    assert found["contracts_updated"] == [CONTRACT]
    assert report["holds"] == {
        "added": [f"FOI-2026-0003 on {ids['a']}"],
        "released": [f"FOI-2026-0002 on {CONTRACT}"],
    }
    assert report["audit"]["acknowledged_now"]["lost_from"] == report["audit"]["log_size_before"]
    with app_on(older, clock) as (again, again_services):
        assert last_entries(again_services, 4) == [
            ("disposition.recover", "recovery", f"record:{spec}"),
            ("hold.recover", "recovery", f"contract:{CONTRACT}"),
            ("hold.recover", "recovery", f"record:{ids['a']}"),
            ("catalogue.recover", "recovery", "catalogue"),
        ]
        [placed] = [d for a, d in entries_on(again_services, ids["a"]) if a == "hold.recover"]
        assert (placed["change"], placed["reference"]) == ("added", "FOI-2026-0003")
        drain(again_services)
        after = catalogue(again, actors.admin, kept)
        still_disposed = disposed(again, actors.admin, spec)
        held_after = holds(again, actors.admin)
    assert after == before
    assert still_disposed == was_disposed
    assert held_after == held
    assert cli(older, "check").exit_code == 0
    assert cli(older, "audit", "verify", "--quiet").exit_code == 0

    second, again_report = recover(older, tmp_path / "again.json")
    assert second.exit_code == 0, second.output
    assert again_report["catalogue"]["records_added"] == 0
    assert again_report["catalogue"]["records_updated"] == 0
    assert again_report["catalogue"]["changes_added"] == 0
    assert again_report["disposals"] == []
    assert again_report["catalogue"]["contracts_updated"] == []
    assert again_report["holds"] == {"added": [], "released": []}
    assert again_report["audit"]["log_size_after"] == again_report["audit"]["log_size_before"]


def _first_layout(store: BlobStore, key: str) -> None:
    """Rewrite a sidecar as the first layout wrote it (no format, no contract details)."""
    body = json.loads(b"".join(store.open(key)))
    del body["format"], body["contract_details"]
    store.delete(key)
    store.put(key, io.BytesIO(json.dumps(body, sort_keys=True, indent=2).encode()))


# What the store holds is the subject here, not the database: SQLite only.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_altered_content_is_reported_and_an_old_store_still_recovers(
    client: TestClient,
    actors: Actors,
    services: Services,
    settings: Settings,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    create_contract(client, actors.staff, reference="OPCC-2015-001")
    old = capture(client, actors.staff, content=b"captured long ago\n", contract="OPCC-2015-001")
    altered = capture(client, actors.staff, content=b"the original bytes\n", contract=None)
    drain(services)
    _first_layout(services.store, f"records/{old.json()['id']}/v1.json")
    for note in list(services.store.list("notes/")):  # a store from before the notes
        services.store.delete(note)
    tampered = Path(settings.blob_root) / "records" / altered.json()["id"] / "v1"
    tampered.chmod(0o600)
    tampered.write_bytes(b"the altered bytes\n")
    before = catalogue(client, actors.admin, [old.json()["id"]])

    rebuilt = on(settings, f"sqlite:///{tmp_path / 'rebuilt.db'}")
    result, report = recover(rebuilt, tmp_path / "report.json")

    assert result.exit_code == 1
    [problem] = report["catalogue"]["problems"]
    assert problem["key"] == f"records/{altered.json()['id']}/v1"
    assert "does not match its sidecar" in problem["problem"]
    assert "1 stored object(s) could not be used" in result.output
    assert report["first_layout_sidecars"] == 1
    assert report["catalogue"]["contracts_without_details"] == ["OPCC-2015-001"]
    with app_on(rebuilt, clock) as (again, again_services):
        admin = make_user(again_services, "ada2", "admin")
        drain(again_services)
        assert again.get(f"/api/records/{altered.json()['id']}", headers=admin).status_code == 404
        after = catalogue(again, admin, [old.json()["id"]])
    old_id = old.json()["id"]
    assert after[old_id] == before[old_id]
    assert [c["title"] for c in after["contracts"]] == ["OPCC-2015-001"]
    checked = cli(rebuilt, "check")
    assert checked.exit_code == 1
    assert f"orphan object (no catalogue row): records/{altered.json()['id']}/v1" in checked.output


def test_recovery_reads_an_s3_store(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    storage = s3_storage_settings(request.getfixturevalue("s3_server"))
    settings = make_settings(tmp_path, sqlite_url, storage=storage)
    with app_on(settings, clock) as (client, services):
        actors = make_actors(services)
        ids = build_archive(client, actors, clock)
        drain(services)
        before = catalogue(client, actors.admin, list(ids.values()))

    rebuilt = on(settings, f"sqlite:///{tmp_path / 'rebuilt.db'}")
    with app_on(rebuilt, clock) as (again, again_services):
        report = recover_from_store(again_services)
        admin = make_user(again_services, "ada2", "admin")
        after = catalogue(again, admin, list(ids.values()))
    assert report.records.records_added == 2 and report.records.problems == []
    assert after == before


class Crash(Exception):
    """The recovery process dying at an injected moment."""


def dispose_of_two(
    client: TestClient, actors: Actors, services: Services, closed: dict[str, str]
) -> list[str]:
    """Dispose of the specification and invitation to tender of a file closed in 2019."""
    run_retention_as_system(services)
    disposed = [closed["specification"], closed["invitation_to_tender"]]
    for record_id in disposed:
        approve_the_proposal(client, actors.records_manager, record_id)
    drain(services)
    return disposed


def entries_on(services: Services, record_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(action, details) of every entry about a record, oldest first."""
    with read_scope(services.engine) as session:
        rows = session.exec(
            select(AuditEntry)
            .where(AuditEntry.subject == f"record:{record_id}")
            .order_by(col(AuditEntry.idx))
        )
        return [(e.action, json.loads(e.details)) for e in rows]


def status_of(services: Services, record_id: str) -> str | None:
    with read_scope(services.engine) as session:
        record = session.get(Record, record_id)
        return None if record is None else record.status


def test_a_recovery_that_stops_part_way_leaves_no_disposal_unaudited(
    request: pytest.FixtureRequest,
    client: TestClient,
    actors: Actors,
    services: Services,
    settings: Settings,
    clock: FixedClock,
    db_url: str,
    tmp_path: Path,
) -> None:
    ensure_signing_key(settings)
    closed = closed_2019(client, actors.staff, "OPCC-2017-028")
    disposed = dispose_of_two(client, actors, services, closed)
    assert cli(settings, "audit", "checkpoint").exit_code == 0
    rebuilt = on(settings, empty_database(request, db_url, tmp_path))
    listed: list[str] = []

    def die_at_the_second_disposal(prefix: str) -> None:
        # Recovery lists a disposed record's prefix while it applies that record's note.
        if prefix.startswith("records/") and prefix != "records/":
            listed.append(prefix.split("/")[1])
            if len(listed) == 2:
                raise Crash(f"killed while applying the disposal of {listed[1]}")

    again = Services.start(rebuilt, clock=clock)
    try:
        faulty = FaultyStore(again.store, before_list=die_at_the_second_disposal)
        again.store = faulty
        with pytest.raises(Crash):
            recover_from_store(again)
        first, second = listed
        assert sorted(listed) == sorted(disposed)
        # The first disposal is committed with its own entry; the second not at all.
        assert status_of(again, first) == "disposed"
        [(action, details)] = entries_on(again, first)
        assert action == "disposition.recover"
        assert (details["added"], details["approved_by"]) == (True, "rob")
        assert details["note"].startswith("notes/")
        assert status_of(again, second) is None and entries_on(again, second) == []
        assert ("catalogue.recover", "recovery", "catalogue") not in last_entries(again, 5)
        # The log as the crash left it is whole: signed (as the worker would) and verified.
        assert cli(rebuilt, "audit", "checkpoint").exit_code == 0
        verified = cli(rebuilt, "audit", "verify", "--quiet")
        assert verified.exit_code == 0, verified.output

        again.store = faulty.inner
        report = recover_from_store(again)  # run again: it finishes what the first began
        assert [d.record_id for d in report.retention.disposals] == [second]
        for record_id in disposed:
            assert status_of(again, record_id) == "disposed"
            assert [a for a, _ in entries_on(again, record_id)] == ["disposition.recover"]
        assert last_entries(again, 1) == [("catalogue.recover", "recovery", "catalogue")]
    finally:
        again.close()
    assert cli(rebuilt, "audit", "checkpoint").exit_code == 0
    verified = cli(rebuilt, "audit", "verify", "--quiet")
    assert verified.exit_code == 0, verified.output
    assert cli(rebuilt, "check").exit_code == 0


def test_content_put_back_for_a_record_already_disposed_of_is_deleted_again(
    client: TestClient, actors: Actors, services: Services, settings: Settings, tmp_path: Path
) -> None:
    closed = closed_2019(client, actors.staff, "OPCC-2017-028")
    spec = closed["specification"]
    drain(services)
    kept = contents(services.store, [spec])
    dispose_specification(client, actors, services, closed)
    drain(services)
    for key, body in kept.items():  # what a store-only restore of an older backup does
        services.store.put(key, io.BytesIO(body))
    store = services.store

    services.store = FaultyStore(store, fail_delete=True)  # the store's lock refuses
    refused = recover_from_store(services)
    services.store = store
    [problem] = refused.records.problems
    assert problem.key == f"records/{spec}/"
    assert "could not be deleted" in problem.problem
    assert refused.retention.leftovers_deleted == [] and contents(store, [spec]) == kept

    result, report = recover(settings, tmp_path / "report.json")

    assert result.exit_code == 0, result.output
    assert report["leftovers_deleted"] == [{"record_id": spec, "objects_deleted": len(kept)}]
    assert report["disposals"] == [] and report["catalogue"]["problems"] == []
    assert f"  {spec}: {len(kept)} objects deleted" in result.output
    assert contents(store, [spec]) == {}
    with read_scope(services.engine) as session:
        [summary] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "catalogue.recover")
        ).all()
        # The deletion has its own entry on the record, written as soon as it was done.
        [deletion] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "disposition.leftovers_deleted")
        ).all()
    assert json.loads(summary.details)["leftovers_deleted"] == [spec]
    assert (deletion.subject, deletion.actor) == (f"record:{spec}", "recovery")
    details = json.loads(deletion.details)
    assert details["objects_deleted"] == len(kept) and details["note"].startswith("notes/")
    assert deletion.idx < summary.idx
    assert status_of(services, spec) == "disposed"
    assert cli(settings, "check").exit_code == 0
