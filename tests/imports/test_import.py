"""``records-service import`` end to end on SQLite and PostgreSQL: a legacy tree and a
zip become records through the API's capture path, each with its provenance in the
database, the sidecar and the audit log; duplicates become sightings; a dry run and a
refused mapping write nothing; a second run captures nothing new."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from factories import Actors, create_contract
from imports.legacy import CONTRACT, HELPLINE, MAPPING, legacy_tree, pdf_bytes, run_import
from records_service.audit.log import log_size
from records_service.audit.models import AuditEntry
from records_service.imports.models import ImportBatch, ImportFile
from records_service.records.models import IndexTask, Record, RecordTag, Version
from records_service.records.sidecars import sidecar_key
from records_service.runtime.services import Services
from records_service.settings import Settings


def _state(services: Services) -> dict[str, object]:
    """Everything an import could write: row counts, the log, the stored objects."""
    with Session(services.engine) as session:
        counts: dict[str, object] = {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (Record, Version, ImportBatch, ImportFile, IndexTask)
        }
        counts["log"] = log_size(session)
    blobs = services.settings.blob_root
    counts["objects"] = sorted(str(p.relative_to(blobs)) for p in blobs.rglob("*") if p.is_file())
    return counts


def _entries(services: Services, action: str) -> list[AuditEntry]:
    with Session(services.engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def ready(client: TestClient, actors: Actors, tmp_path: Path) -> Path:
    """A contract, the mapping file, and the legacy tree's root."""
    assert create_contract(client, actors.staff, reference=CONTRACT).status_code == 201
    (tmp_path / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


def test_a_legacy_tree_is_imported_faithfully_and_only_once(
    ready: Path, services: Services, settings: Settings
) -> None:
    expected = legacy_tree(ready / "Shared drive")
    args = [str(ready / "Shared drive"), "--map", str(ready / "mapping.toml"), "--user", "rob"]
    before = _state(services)
    dry = run_import(settings, *args, "--dry-run", "--report", str(ready / "dry.csv"))
    assert dry.exit_code == 0, dry.output
    assert "would be: 4 captured, 1 duplicate, 1 unmatched, 1 skipped, 1 failed" in dry.output
    assert _state(services) == before  # the dry run wrote nothing
    dry_files = json.loads((ready / "dry.json").read_text())["files"]
    assert {f["path"]: f["outcome"] for f in dry_files} == expected

    result = run_import(settings, *args, "--report", str(ready / "report.csv"))
    assert result.exit_code == 0, result.output
    report = json.loads((ready / "report.json").read_text())
    assert {f["path"]: f["outcome"] for f in report["files"]} == expected
    assert (ready / "report.csv").read_text().count("\n") == len(expected) + 1
    _check_records(services, report["files"])
    _check_provenance(services)

    after = _state(services)
    again = run_import(settings, *args)
    assert again.exit_code == 0, again.output
    assert "this run: 0 captured, 0 duplicate, 0 unmatched, 0 skipped, 1 failed" in again.output
    grown = _state(services)
    # Only the run's start and end (and the empty file's failure, tried again) are new.
    assert {k: v for k, v in grown.items() if k != "log"} == {
        k: v for k, v in after.items() if k != "log"
    }
    assert grown["log"] == after["log"] + 2  # type: ignore[operator]


def _check_records(services: Services, files: list[dict[str, object]]) -> None:
    by_path = {f["path"]: f for f in files}
    q2 = by_path[f"{HELPLINE}/Monitoring/Q2 return (copy).pdf"]
    copy = by_path[f"{HELPLINE}/Monitoring/Q2 return.pdf"]
    assert copy["record_id"] == q2["record_id"]  # a sighting of the record, not a second one
    assert "empty" in str(by_path[f"{HELPLINE}/empty.txt"]["reason"])
    with Session(services.engine) as session:
        record = session.get(Record, q2["record_id"])
        assert record is not None
        assert (record.title, record.record_type, str(record.record_date)) == (
            "Helpline monitoring return Q2 2016",
            "monitoring_return",
            "2016-10-05",  # the PDF's own creation date, the rule's first source
        )
        tags = set(session.exec(select(RecordTag.tag).where(RecordTag.record_id == record.id)))
        assert tags == {"legacy-import", "helpline", "fy-2016"}
        q3 = session.get(Record, by_path[f"{HELPLINE}/Monitoring/Q3 return.pdf"]["record_id"])
        assert q3 is not None and str(q3.record_date) == "2016-04-01"  # no PDF date: the path's
        mail = session.get(Record, by_path[f"{HELPLINE}/referral.eml"]["record_id"])
        assert mail is not None and mail.title.startswith("Helpline contract")  # its Subject
        assert session.exec(select(func.count()).select_from(Record)).one() == 4
        queued = set(session.exec(select(IndexTask.record_id)))
        assert queued == {f["record_id"] for f in files if f["outcome"] == "captured"}


def _check_provenance(services: Services) -> None:
    captures = _entries(services, "record.capture")
    assert len(captures) == 4 and all(e.actor == "rob" for e in captures)
    details = [json.loads(e.details)["provenance"] for e in captures]
    assert {d["batch"] for d in details} == {"Shared drive"}
    assert {d["run_by"] for d in details} == {"rob"}
    sightings = _entries(services, "import.duplicate")
    assert len(sightings) == 1
    sighting = json.loads(sightings[0].details)["provenance"]
    assert sighting["path"] == f"{HELPLINE}/Monitoring/Q2 return.pdf"
    assert [e.action for e in _entries(services, "import.start")] == ["import.start"]
    assert len(_entries(services, "import.finish")) == 1
    services.run_background_once()  # the worker writes the sidecars
    with Session(services.engine) as session:
        version = session.exec(select(Version).order_by(col(Version.id))).first()
        assert version is not None
        row = session.exec(
            select(ImportFile).where(ImportFile.record_id == version.record_id)
        ).first()
    assert row is not None
    body = b"".join(services.store.open(sidecar_key(version.storage_key)))
    provenance = json.loads(body)["provenance"]
    assert provenance["path"] == row.path and provenance["size"] == row.size == version.size
    assert provenance["modified_at"] == row.modified_at.isoformat()


def test_a_zip_is_read_in_place_and_its_unsafe_entries_are_refused(
    ready: Path, services: Services, settings: Settings
) -> None:
    archive = ready / "covid.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"{HELPLINE}/Monitoring/Q1 return.pdf", pdf_bytes("20200601", "Q1"))
        out.writestr(
            f"{HELPLINE}/letter.eml",
            (Path(__file__).parents[1] / "fixtures" / "monitoring-return.eml").read_bytes(),
        )
        out.writestr("../../etc/passwd.txt", b"root\n")
        out.writestr("/abs/notes.txt", b"notes\n")
    args = [str(archive), "--map", str(ready / "mapping.toml"), "--user", "rob"]
    result = run_import(settings, *args, "--report", str(ready / "zip.csv"))
    assert result.exit_code == 0, result.output
    files = {f["path"]: f for f in json.loads((ready / "zip.json").read_text())["files"]}
    assert files["../../etc/passwd.txt"]["outcome"] == "failed"
    assert "leads out of the archive" in files["../../etc/passwd.txt"]["reason"]
    assert "absolute" in files["/abs/notes.txt"]["reason"]
    assert files[f"{HELPLINE}/Monitoring/Q1 return.pdf"]["outcome"] == "captured"
    assert files[f"{HELPLINE}/letter.eml"]["outcome"] == "captured"
    assert not any((ready / name).exists() for name in ("Commissioning", "abs", "etc"))
    with Session(services.engine) as session:
        batch = session.exec(select(ImportBatch)).one()
    assert batch.name == "covid.zip" and batch.source == str(archive.resolve())


REFUSED = [
    # A contract written in the rule, and a record type made from a path's folder.
    (
        (
            'contract = "OPCC-2016-007"\nrecord_type = "monitoring',
            'contract = "OPCC-1999-404"\nrecord_type = "monitoring',
        ),
        11,
        "contract 'OPCC-1999-404'",
    ),
    (
        ('record_type = "correspondence"', 'record_type = "{folder}"'),
        20,
        "record type 'Helpline' (for Commissioning/",
    ),
]


def test_an_unknown_contract_or_record_type_stops_the_run_before_any_write(
    ready: Path, services: Services, settings: Settings
) -> None:
    legacy_tree(ready / "tree")
    mapping = ready / "mapping.toml"
    before = _state(services)
    for edit, line, phrase in REFUSED:
        text = MAPPING.replace(*edit)
        assert text != MAPPING
        mapping.write_text(text, encoding="utf-8")
        result = run_import(settings, str(ready / "tree"), "--map", str(mapping), "--user", "rob")
        assert result.exit_code == 1
        assert f"mapping.toml line {line}: rule" in result.output and phrase in result.output
        assert _state(services) == before
