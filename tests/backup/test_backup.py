"""``records-service backup`` and ``restore`` on the embedded default: a consistent copy
while the service writes, incremental blobs, refusals, and a restore that checks itself."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from factories import FixedClock
from records_service.audit.rollback import checkpoint_key
from records_service.backup import BackupRefused, snapshot
from records_service.backup.manifest import Role, read_manifest, write_manifest
from records_service.backup.restore import restore_backup
from records_service.backup.take import take_backup
from records_service.migrations import alembic_config
from records_service.runtime.services import Services
from records_service.settings import StorageSettings

from .conftest import (
    Live,
    capture_an_expired_record,
    dispose_of,
    embedded_settings,
    run_cli,
    versions,
)


def test_a_backup_restores_into_an_empty_installation_byte_for_byte(
    live: Live, tmp_path: Path, clock: FixedClock
) -> None:
    before = versions(live.services.engine, live.services.store)
    dest = tmp_path / "backup"
    dest.mkdir()
    made = run_cli(live.settings, "backup", str(dest))
    assert made.exit_code == 0, made.output
    manifest = read_manifest(dest)
    # Four versions and their sidecars, the contract's note and the signed checkpoint.
    blobs = manifest.of_role(Role.BLOB)
    assert len(blobs) == 10
    assert len([path for path in blobs if path.startswith("blobs/notes/contracts/")]) == 1
    assert "objects: 10 copied now, 0 already in the backup" in made.output
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert (manifest.records, manifest.versions, manifest.schema_revision) == (3, 4, head)
    assert manifest.audit.log_size == manifest.audit.latest_checkpoint
    assert {entry.role.value for entry in manifest.files.values()} >= {
        "database",
        "blob",
        "audit-signing-key",
    }

    target = embedded_settings(tmp_path / "elsewhere" / "data")
    restored = run_cli(target, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    for line in ("OK: store and catalogue", "OK: fixity: all 4 stored version(s)", "OK: audit log"):
        assert line in restored.output
    assert "restore complete: every check passed" in restored.output
    services = Services.start(target, clock=clock)
    try:
        assert versions(services.engine, services.store) == before
    finally:
        services.close()


def test_the_copy_is_the_database_as_the_backup_began_while_writes_go_on(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FixedClock
) -> None:
    monkeypatch.setattr(snapshot, "PAGES_PER_STEP", 2)  # many steps, for writes between them
    database = live.settings.resolved_database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock throughout
    holder.execute("UPDATE contracts SET title = 'uncommitted'")
    during: list[str] = []

    def commit_a_capture(remaining: int, _total: int) -> None:
        if not during and remaining:
            holder.execute("ROLLBACK")
            during.append(live.capture(b"captured while the backup ran\n", title="During"))
            holder.execute("BEGIN IMMEDIATE")

    dest = tmp_path / "backup"
    dest.mkdir()
    report = take_backup(live.settings, dest, clock=clock, on_database_step=commit_a_capture)
    holder.execute("ROLLBACK")
    holder.close()
    assert during and report.ok, report.problems
    assert report.manifest.records == 3  # the capture committed mid-copy is not in it
    assert report.blobs.newer == 1  # and its content waits for the next backup
    copy = sqlite3.connect(dest / next(iter(report.manifest.of_role(Role.DATABASE))))
    titles = {row[0] for row in copy.execute("SELECT title FROM records")}
    copy.close()
    assert "During" not in titles and "uncommitted" not in titles

    target = embedded_settings(tmp_path / "elsewhere" / "data")
    restored = run_cli(target, "restore", str(dest))
    assert restored.exit_code == 0, restored.output  # no content without its row


def test_a_second_backup_copies_only_the_new_objects(
    live: Live, tmp_path: Path, clock: FixedClock
) -> None:
    dest = tmp_path / "backup"
    dest.mkdir()
    first = take_backup(live.settings, dest, clock=clock)
    old = dest / next(path for path in first.manifest.files if path.endswith("/v1"))
    stamp = old.stat().st_mtime_ns, old.stat().st_ino
    record = live.capture(b"a later record\n", title="Later")
    signed = live.settle()
    clock.advance(hours=1)
    second = take_backup(live.settings, dest, clock=clock)
    new = {f"blobs/records/{record}/v1", f"blobs/records/{record}/v1.json"}
    assert set(second.blobs.copied) == new | {f"blobs/{checkpoint_key(signed)}"}
    assert second.blobs.kept == len(first.blobs.entries)
    assert (old.stat().st_mtime_ns, old.stat().st_ino) == stamp  # not copied again
    databases = [p.name for p in dest.iterdir() if p.suffix == ".db"]
    assert databases == list(second.manifest.of_role(Role.DATABASE))  # the old copy went


def test_verify_all_finds_a_damaged_copy_in_the_backup_and_copies_it_again(
    live: Live, tmp_path: Path, clock: FixedClock
) -> None:
    dest = tmp_path / "backup"
    dest.mkdir()
    first = take_backup(live.settings, dest, clock=clock)
    damaged = dest / next(p for p in first.manifest.files if p.endswith("/v1"))
    good = damaged.read_bytes()
    os.chmod(damaged, 0o644)
    damaged.write_bytes(bytes(len(good)))  # same size: only re-reading finds it
    again = run_cli(live.settings, "backup", str(dest), "--verify-all")
    assert again.exit_code == 0, again.output
    assert "0 copied now" not in again.output and "1 damaged copies replaced" in again.output
    assert damaged.read_bytes() == good


def test_objects_disposed_of_leave_the_backup_at_the_next_run(
    live: Live, tmp_path: Path, clock: FixedClock
) -> None:
    dest = tmp_path / "backup"
    dest.mkdir()
    disposed = capture_an_expired_record(live)
    take_backup(live.settings, dest, clock=clock)
    assert len(list((dest / "blobs" / "records").glob(f"{disposed}/*"))) == 2
    dispose_of(live, disposed)
    report = take_backup(live.settings, dest, clock=clock)
    assert report.pruned == 2
    assert not (dest / "blobs" / "records" / disposed).exists()
    assert not [path for path in report.manifest.files if disposed in path]


def test_restore_refuses_an_installation_in_use(live: Live, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    dest.mkdir()
    assert run_cli(live.settings, "backup", str(dest), "--quiet").exit_code == 0
    refused = run_cli(live.settings, "restore", str(dest))
    assert refused.exit_code == 1
    assert "is in use (" in refused.output and "Traceback" not in refused.output

    only_blobs = embedded_settings(tmp_path / "other" / "data")
    some = only_blobs.blob_root / "records" / "x"
    some.mkdir(parents=True)
    (some / "v1").write_bytes(b"left over")
    refused = run_cli(only_blobs, "restore", str(dest))
    assert refused.exit_code == 1
    assert "already holds objects (such as records/x/v1)" in refused.output
    assert not Path(only_blobs.resolved_database_url.removeprefix("sqlite:///")).exists()


def test_a_damaged_backup_is_refused_naming_the_file(live: Live, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    dest.mkdir()
    report = take_backup(live.settings, dest)
    damaged = next(p for p in report.manifest.files if "/v2-" in p and not p.endswith(".json"))
    os.chmod(dest / damaged, 0o644)
    with (dest / damaged).open("r+b") as handle:
        handle.write(b"N")
    target = embedded_settings(tmp_path / "elsewhere" / "data")
    refused = run_cli(target, "restore", str(dest))
    assert refused.exit_code == 1
    assert f"{damaged}: its SHA-256 does not match the manifest (damaged)" in refused.output
    assert "nothing was restored" in refused.output
    assert not target.data_dir.exists() or not any(target.blob_root.glob("**/v*"))


def test_a_backup_from_a_later_release_is_refused_before_anything_is_written(
    live: Live, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    dest.mkdir()
    report = take_backup(live.settings, dest)
    later = report.manifest.model_copy(update={"schema_revision": "0042"})
    write_manifest(dest, later)
    target = embedded_settings(tmp_path / "elsewhere" / "data")
    refused = run_cli(target, "restore", str(dest))
    assert refused.exit_code == 1
    assert "schema revision 0042, which this release does not know" in refused.output
    assert not target.data_dir.exists()


def test_refusals_are_one_line(live: Live, tmp_path: Path) -> None:
    missing = run_cli(live.settings, "backup", str(tmp_path / "not-mounted"))
    assert missing.exit_code == 1 and "does not exist: create it first" in missing.output
    (tmp_path / "a-file").write_text("")
    not_dir = run_cli(live.settings, "backup", str(tmp_path / "a-file"))
    assert not_dir.exit_code != 0 and "Traceback" not in not_dir.output
    inside = run_cli(live.settings, "backup", str(live.settings.blob_root))
    assert inside.exit_code == 1 and "inside the blob store" in inside.output
    no_backup = run_cli(live.settings, "restore", str(tmp_path))
    assert no_backup.exit_code == 1 and "manifest.json is missing" in no_backup.output


def test_postgresql_and_s3_are_pointed_at_the_runbook(tmp_path: Path) -> None:
    postgres = embedded_settings(tmp_path / "data", "postgresql+psycopg://rs@db.example/rs")
    s3 = embedded_settings(tmp_path / "data").model_copy(
        update={"storage": StorageSettings(backend="s3")}
    )
    for settings, named in ((postgres, "pg_dump"), (s3, "object lock and replication")):
        with pytest.raises(BackupRefused, match=rf"{named}.*docs/recovery\.md"):
            take_backup(settings, tmp_path)
        with pytest.raises(BackupRefused, match=rf"{named}.*docs/recovery\.md"):
            restore_backup(settings, tmp_path)
    said = run_cli(postgres, "backup", str(tmp_path))
    assert said.exit_code == 1
    assert "pg_dump or pg_basebackup (see 'PostgreSQL and S3' in docs/recovery.md)" in said.output
