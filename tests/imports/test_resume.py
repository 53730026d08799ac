"""Killed at any point, ``records-service import`` run again finishes the batch with no
duplicates and no gaps, and a run after that captures nothing new.

The real command runs as a child process, writing three files per transaction, and is
killed (SIGKILL) once a seeded random number of files have their outcome committed;
where exactly the kill lands (reading the next group, storing its content, committing
it) is left to the machine. Then it is killed again later in the batch, and finally run
to the end. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from factories import Actors, create_contract
from imports.legacy import CONTRACT, HELPLINE, MAPPING, pdf_bytes, run_import, write
from records_service.audit.models import AuditEntry
from records_service.imports.models import ImportFile
from records_service.records.models import Record, Version
from records_service.records.orphans import find_orphans
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.waiting import wait_until

UNIQUE, REPEATED = 16, 4
# Files per transaction: small, so that the kills fall between groups and inside them.
GROUP = "3"


def _tree(root: Path) -> int:
    """Unique monitoring returns and letters, some letters twice, and one stray file."""
    for n in range(UNIQUE):
        if n % 2:
            write(
                root, f"{HELPLINE}/Monitoring/Q{n % 4 + 1} return {n}.pdf", pdf_bytes(None, str(n))
            )
        else:
            write(root, f"{HELPLINE}/letter {n}.txt", f"Letter {n} about the helpline.\n".encode())
    for n in range(REPEATED):
        write(
            root,
            f"{HELPLINE}/letter {2 * n} (copy).txt",
            f"Letter {2 * n} about the helpline.\n".encode(),
        )
    write(root, "Personal/notes.txt", b"not a record\n")
    return UNIQUE + REPEATED + 1


def _outcomes(services: Services) -> int:
    with Session(services.engine) as session:
        return int(session.exec(select(func.count()).select_from(ImportFile)).one())


def _killed_at(args: list[str], settings: Settings, services: Services, files: int) -> None:
    env = {
        **os.environ,
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
    }
    command = [sys.executable, "-m", "records_service", "import", *args, "--quiet"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(
            lambda: _outcomes(services) >= files or child.poll() is not None,
            f"the import reaching {files} files",
        )
    finally:
        child.kill()
        _, errors = child.communicate()
    assert child.returncode in (0, -9), errors.decode()


def test_an_import_killed_twice_finishes_with_no_duplicates_and_no_gaps(
    client: TestClient,
    actors: Actors,
    services: Services,
    settings: Settings,
    tmp_path: Path,
    db_url: str,
) -> None:
    assert create_contract(client, actors.staff, reference=CONTRACT).status_code == 201
    (tmp_path / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    files = _tree(tmp_path / "tree")
    args = [str(tmp_path / "tree"), "--map", str(tmp_path / "mapping.toml"), "--user", "rob"]
    args += ["--group", GROUP]
    seed = random.Random(f"import-resume-{db_url.split(':')[0]}")
    first, second = sorted(seed.sample(range(1, files), 2))
    _killed_at(args, settings, services, first)
    _killed_at(args, settings, services, second)
    result = run_import(settings, *args)
    assert result.exit_code == 0, result.output
    _check_complete(services, files)
    again = run_import(settings, *args)
    assert "this run: 0 captured, 0 duplicate, 0 unmatched, 0 skipped, 0 failed" in again.output
    _check_complete(services, files)


def _check_complete(services: Services, files: int) -> None:
    with Session(services.engine) as session:
        rows = list(session.exec(select(ImportFile)))
        outcomes = sorted(row.outcome for row in rows)
        hashes = list(session.exec(select(Version.sha256)))
        records = session.exec(select(func.count()).select_from(Record)).one()
        captures = session.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(col(AuditEntry.action) == "record.capture")
        ).one()
    assert len({row.path for row in rows}) == len(rows) == files  # every file, once
    assert outcomes == sorted(["captured"] * UNIQUE + ["duplicate"] * REPEATED + ["unmatched"])
    assert records == captures == len(hashes) == len(set(hashes)) == UNIQUE
    report = find_orphans(services.engine, services.store)
    assert report.ok, (report.orphan_objects, report.missing_objects)
