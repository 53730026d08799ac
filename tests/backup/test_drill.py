"""The restore drill: a lost database comes back from last night's backup, the rest from
the blob store, and the audit log says truthfully which of its entries are lost."""

from __future__ import annotations

import json
from pathlib import Path

from factories import FixedClock, create_contract
from records_service.backup.restore import newer_than_backup
from records_service.backup.take import take_backup
from records_service.settings import Settings
from records_service.storage import BlobStore

from .conftest import (
    CLOSED,
    Live,
    Versions,
    capture_an_expired_record,
    dispose_of,
    embedded_settings,
    run_cli,
    running,
    versions,
)


def _edit(live: Live, record: str, title: str) -> None:
    edited = live.client.patch(
        f"/api/records/{record}",
        json={"reason": "clearer title", "title": title},
        headers=live.actors.staff,
    )
    assert edited.status_code == 200, edited.text


def assert_recoverable_from_store(store: BlobStore, after: Versions) -> None:
    """What ``records-service recover --from-store`` starts from: every version acknowledged
    after the backup is still in the store, byte for byte.

    The recovery drill continues here: recover from the store, then ``check`` passes and
    ``versions()`` equals the versions acknowledged before and after the backup together.
    """
    for key, (_sha, content) in after.items():
        assert b"".join(store.open(key)) == content


def _work_until_the_backup(live: Live) -> tuple[str, str, str]:
    """Capture, edit, add a version, dispose of a record; return the edited and disposed
    ids, and that of a record whose retention is over too, to dispose of after the backup."""
    assert create_contract(live.client, live.actors.staff).status_code == 201
    kept = live.capture(b"needs assessment, draft\n")
    live.capture(b"decision record\n", record_type="decision_record", title="Decision")
    _edit(live, kept, "Needs assessment 2023 (agreed)")
    added = live.client.post(
        f"/api/records/{kept}/versions",
        files={"file": ("needs.txt", b"needs assessment, agreed\n", "text/plain")},
        headers=live.actors.staff,
    )
    assert added.status_code == 201, added.text
    disposed = capture_an_expired_record(live)
    expired = live.capture(
        b"specification, 2017\n",
        record_type="specification",
        contract=CLOSED,
        record_date="2017-01-20",
        title="Specification 2017",
    )
    dispose_of(live, disposed)
    live.settle()
    return kept, disposed, expired


def _work_after_the_backup(
    live: Live, kept: str, expired: str, before: Versions
) -> tuple[Versions, int]:
    """Capture, edit and dispose of more; return the new versions and the checkpoint
    signed over them."""
    later = live.capture(b"captured after the backup\n", title="Later")
    _edit(live, kept, "Needs assessment 2023 (superseded)")
    dispose_of(live, expired)
    signed = live.settle()
    now = versions(live.services.engine, live.services.store)
    after = {key: value for key, value in now.items() if key not in before}
    assert set(after) == {f"records/{later}/v1"}
    assert f"records/{expired}/v1" in before and f"records/{expired}/v1" not in now
    return after, signed


def _lose_the_database(settings: Settings) -> None:
    database = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    for lost in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        lost.unlink(missing_ok=True)


def test_a_lost_database_is_restored_and_the_later_loss_is_reported(
    tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    settings = embedded_settings(tmp_path / "data", sqlite_url)
    dest = tmp_path / "backup"
    dest.mkdir()
    with running(settings, clock) as live:
        kept, disposed, expired = _work_until_the_backup(live)
        before = versions(live.services.engine, live.services.store)
        backup = take_backup(settings, dest, clock=clock)
        assert backup.ok, backup.problems
        held = [path for path in backup.manifest.files if disposed in path]
        assert [path.split("/")[1] for path in held] == ["notes"]  # its disposal note only
        clock.advance(hours=2)  # the day goes on after the night's backup
        after, signed = _work_after_the_backup(live, kept, expired, before)
    _lose_the_database(settings)

    restored = run_cli(settings, "restore", str(dest), "--existing-store")
    said = restored.output
    assert restored.exit_code == 1, said
    assert f"OK: fixity: all {len(before)} stored version(s) match" in said
    assert "FAILED: audit log" in said
    assert (
        f"the log has {backup.manifest.audit.log_size} entries; the store holds a signed "
        f"checkpoint of {signed}: entries are missing or the database was restored from an "
        "older copy"
    ) in said
    assert "FAILED: store and catalogue: 0 version(s) or sidecar(s) missing" in said
    assert f"in the store without a catalogue row: {next(iter(after))}" in said
    assert "1 version(s) in the store are newer than the backup" in said

    with running(settings, clock, live.actors) as again:
        # Every version acknowledged before the backup is back, byte for byte.
        assert versions(again.services.engine, again.services.store) == before
        staff = live.actors.staff
        record = again.client.get(f"/api/records/{kept}", headers=staff).json()
        assert record["title"] == "Needs assessment 2023 (agreed)"
        gone = again.client.get(f"/api/records/{disposed}", headers=staff).json()
        assert gone["status"] == "disposed"
        assert list(newer_than_backup(again.services.store, backup.manifest)) == list(after)
        assert_recoverable_from_store(again.services.store, after)

    # The rest comes back from the store, and the log says what it cannot prove.
    report = tmp_path / "recovery.json"
    recovered = run_cli(settings, "recover", "--from-store", "--report", str(report), "--quiet")
    assert recovered.exit_code == 0, recovered.output
    # The record disposed of after the backup is disposed of again, not active, and the
    # content the restore put back for it is gone again.
    [disposal] = json.loads(report.read_text())["disposals"]
    assert (disposal["record_id"], disposal["objects_deleted"]) == (expired, 2)
    assert f"  {expired}: disposed of on " in recovered.output
    with running(settings, clock, live.actors) as last:
        left = {k: v for k, v in before.items() if not k.startswith(f"records/{expired}/")}
        assert versions(last.services.engine, last.services.store) == {**left, **after}
        record = last.client.get(f"/api/records/{kept}", headers=live.actors.staff).json()
        assert record["title"] == "Needs assessment 2023 (superseded)"
        gone = last.client.get(f"/api/records/{expired}", headers=live.actors.staff).json()
        assert gone["status"] == "disposed"
        assert not list(last.services.store.list(f"records/{expired}/"))
    assert run_cli(settings, "check").exit_code == 0
    verified = run_cli(settings, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    lost = f"entries {backup.manifest.audit.log_size} to {signed - 1} were lost"
    assert lost in verified.output
