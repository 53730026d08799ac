"""The import writes its files a group at a time. A file the capture refuses when its
group is written fails alone, with the capture's reason: the rest of its group is
captured (or recorded as sightings) as if it had been imported one file at a time,
and nothing of the refused file is left in the store. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from factories import Actors, create_contract
from imports.legacy import CONTRACT, HELPLINE, MAPPING, write
from records_service.audit.models import AuditEntry
from records_service.db import read_scope
from records_service.imports.batches import begin_batch, import_user
from records_service.imports.mapping import load_mapping
from records_service.imports.runner import FileResult, ImportRun
from records_service.imports.sources import SourceLimits, open_source
from records_service.records.capture import content_key
from records_service.records.orphans import find_orphans
from records_service.runtime.services import Services

# The capture's upload limit, below the source's: the larger letter passes the
# source's check when the tree is listed, and is refused when its group is stored
# (as a file that grew after the listing would be).
CAPTURE_LIMIT = 1000
WRITTEN = datetime(2017, 6, 1, tzinfo=UTC).timestamp()


def _run(services: Services, tree: Path) -> list[FileResult]:
    mapping = load_mapping(MAPPING, name="mapping.toml")
    with read_scope(services.engine) as session:
        actor = import_user(session, "rob")
    ctx = replace(services.capture_context(), max_upload_bytes=CAPTURE_LIMIT)
    with open_source(tree, SourceLimits(max_file_bytes=10 * CAPTURE_LIMIT)) as source:
        batch = begin_batch(
            services.engine,
            name="letters",
            source=str(source.location),
            mapping=mapping,
            actor=actor,
            clock=services.clock,
        )
        run = ImportRun(ctx, mapping, source, actor, batch)
        return list(run.files(source.files()))


def test_a_file_refused_when_its_group_is_written_fails_alone(
    client: TestClient, actors: Actors, services: Services, tmp_path: Path
) -> None:
    assert create_contract(client, actors.staff, reference=CONTRACT).status_code == 201
    tree = tmp_path / "tree"
    letters = {
        "a": b"Letter a about the helpline.\n",
        "b": b"Letter b, at length. " * 100,
        "c": b"Letter a about the helpline.\n",
        "d": b"Letter d about the helpline.\n",
    }
    for letter, content in letters.items():
        path = write(tree, f"{HELPLINE}/letter {letter}.txt", content)
        os.utime(path, (WRITTEN, WRITTEN))  # dated by it, before the test clock's today
    results = {r.file.name: r.outcome for r in _run(services, tree)}
    outcomes = {name: outcome.outcome.value for name, outcome in results.items()}
    assert outcomes == {
        "letter a.txt": "captured",
        "letter b.txt": "failed",
        "letter c.txt": "duplicate",
        "letter d.txt": "captured",
    }
    assert f"exceeds the limit of {CAPTURE_LIMIT} bytes" in results["letter b.txt"].reason
    assert results["letter c.txt"].record_id == results["letter a.txt"].record_id
    with Session(services.engine) as session:
        entries = session.exec(
            select(AuditEntry).where(col(AuditEntry.action).startswith("record."))
        ).all()
    assert [(e.action, e.subject) for e in entries] == [
        ("record.capture", f"record:{results[name].record_id}")
        for name in ("letter a.txt", "letter d.txt")
    ]
    assert all(json.loads(e.details)["provenance"]["batch"] == "letters" for e in entries)
    report = find_orphans(services.engine, services.store)
    assert report.ok, (report.orphan_objects, report.missing_objects)
    assert not any(
        key.startswith("records/")
        and key.endswith("/v1")
        and key
        not in {content_key(str(results[n].record_id), 1) for n in ("letter a.txt", "letter d.txt")}
        for key in services.store.list("records/")
    )
