"""Signed checkpoints: the signing key made by ``init``, when checkpoints are due, the
background step, write-once copies in the local store and under S3 object lock."""

from __future__ import annotations

import io
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from minio.error import S3Error
from sqlmodel import Session, col, select

from factories import FixedClock, make_settings, s3_storage_settings
from records_service.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from records_service.audit.keys import (
    current_verifier_key,
    ensure_signing_key,
    load_signer,
    signing_key_path,
    trusted_keys,
)
from records_service.audit.merkle import root
from records_service.audit.models import AuditCheckpoint
from records_service.audit.nodes import with_stored_nodes
from records_service.audit.rollback import CheckpointConflict, checkpoint_key
from records_service.audit.writer import (
    CheckpointPolicy,
    LogState,
)
from records_service.cli import main
from records_service.runtime.services import Services
from records_service.settings import AuditSettings, Settings
from records_service.storage import ObjectExists
from support.s3server import S3ServerInfo

from .conftest import append_reads, sign_now, started, verify

NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


def checkpoints(services: Services) -> list[AuditCheckpoint]:
    with Session(services.engine) as session:
        query = select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size))
        return list(session.exec(query))


def test_init_creates_a_private_key_once(tmp_path: Path, sqlite_url: str) -> None:
    env = {"RECORDS_DATA_DIR": str(tmp_path / "data"), "RECORDS_DATABASE_URL": sqlite_url}
    first = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    key = tmp_path / "data" / "keys" / "audit-signing.key"
    assert f"audit signing key created: {key}" in first.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    content = key.read_bytes()
    again = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert f"audit signing key present: {key}" in again.output
    assert key.read_bytes() == content, "init must never replace the signing key"
    settings = make_settings(tmp_path, sqlite_url)
    assert f"audit public key: {current_verifier_key(settings)}" in again.output
    assert not ensure_signing_key(settings)


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (LogState(size=0, checkpointed=0, oldest_uncovered_at=None), False),
        (LogState(size=5, checkpointed=5, oldest_uncovered_at=None), False),
        (LogState(size=13, checkpointed=3, oldest_uncovered_at=NOW), True),
        (LogState(size=12, checkpointed=3, oldest_uncovered_at=NOW), False),
        (LogState(size=4, checkpointed=3, oldest_uncovered_at=NOW - timedelta(seconds=60)), True),
        (LogState(size=4, checkpointed=3, oldest_uncovered_at=NOW - timedelta(seconds=59)), False),
    ],
)
def test_policy(state: LogState, due: bool) -> None:
    assert state.due(CheckpointPolicy(every_entries=10, every_seconds=60), NOW) is due


def test_background_step_signs_after_n_entries_or_t_seconds(
    audit_services: Services, clock: FixedClock
) -> None:
    # audit_settings: every 4 entries, or 60 s (the default) after the oldest uncovered one.
    append_reads(audit_services, 3)
    assert audit_services.run_background_once() == 0
    append_reads(audit_services, 1)
    assert audit_services.run_background_once() == 1
    assert [c.tree_size for c in checkpoints(audit_services)] == [4]
    append_reads(audit_services, 1)
    clock.advance(seconds=59)
    assert audit_services.run_background_once() == 0
    clock.advance(seconds=1)
    assert audit_services.run_background_once() == 1
    assert audit_services.run_background_once() == 0, "nothing new, nothing to sign"
    rows = checkpoints(audit_services)
    assert [c.tree_size for c in rows] == [4, 5]
    parsed = open_checkpoint(rows[1].note, current_verifier_key(audit_services.settings))
    assert (parsed.origin, parsed.tree_size, parsed.timestamp) == ("opcc.test/audit", 5, clock())
    assert parsed.root_hash == rows[1].root_hash
    assert verify(audit_services).ok


def test_checkpoints_are_write_once_files(audit_services: Services) -> None:
    append_reads(audit_services, 2)
    sign_now(audit_services)
    key = checkpoint_key(2)
    assert key == "audit/checkpoints/00000000000000000002.note"
    row = checkpoints(audit_services)[0]
    assert row.storage_key == key
    path = audit_services.settings.blob_root / key
    assert path.read_text(encoding="utf-8") == row.note
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, "stored read-only"
    with pytest.raises(ObjectExists):
        audit_services.store.put(key, io.BytesIO(b"forged"))
    assert path.read_text(encoding="utf-8") == row.note


def test_interrupted_publication_is_adopted(audit_services: Services) -> None:
    """A crash after the store write and before the row: the next run adopts the stored note."""
    append_reads(audit_services, 3)
    with Session(audit_services.engine) as session:
        root_hash = with_stored_nodes(session, lambda nodes: root(3, nodes))
    note = sign_note_for(audit_services, size=3, root_hash=root_hash)
    audit_services.store.put(checkpoint_key(3), io.BytesIO(note.encode()))
    assert sign_now(audit_services) == 3
    assert [c.note for c in checkpoints(audit_services)] == [note]
    assert verify(audit_services).ok


def test_conflicting_note_in_the_store_is_refused(audit_services: Services) -> None:
    append_reads(audit_services, 2)
    bogus = sign_note_for(audit_services, size=2, root_hash=bytes(32))
    audit_services.store.put(checkpoint_key(2), io.BytesIO(bogus.encode()))
    with pytest.raises(CheckpointConflict, match="signs a different root"):
        sign_now(audit_services)
    assert checkpoints(audit_services) == []


def sign_note_for(services: Services, *, size: int, root_hash: bytes) -> str:
    signer = load_signer(services.settings)
    return sign_checkpoint(
        Checkpoint(services.settings.audit.origin, size, root_hash), signer.name, signer.private_key
    )


def test_step_without_a_key_does_nothing_and_warns_once(
    tmp_path: Path, sqlite_url: str, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, sqlite_url, audit=AuditSettings(checkpoint_every_entries=1))
    services = Services.start(settings, clock=clock)
    try:
        append_reads(services, 2)
        assert services.run_background_once() == 0
        assert services.run_background_once() == 0
        assert checkpoints(services) == []
        warnings = [r for r in caplog.records if "no audit signing key" in r.getMessage()]
        assert len(warnings) == 1
        assert trusted_keys(settings) == []
    finally:
        services.close()
    assert not signing_key_path(settings).exists()


@pytest.fixture
def s3_audit_services(
    tmp_path: Path, sqlite_url: str, s3_server: S3ServerInfo, clock: FixedClock
) -> Iterator[Services]:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        storage=s3_storage_settings(s3_server),
        audit=AuditSettings(bucket=f"audit-{uuid.uuid4().hex[:12]}", retention_years=7),
    )
    with started(settings, clock) as services:
        yield services


def test_s3_checkpoints_go_to_their_own_locked_bucket(
    s3_audit_services: Services, s3_server: S3ServerInfo, clock: FixedClock
) -> None:
    services = s3_audit_services
    settings: Settings = services.settings
    append_reads(services, 3)
    sign_now(services)
    bucket = settings.audit.bucket
    assert bucket is not None
    key = checkpoint_key(3)
    raw = s3_server.raw_client()
    metadata = raw.stat_object(bucket, key).metadata or {}
    assert metadata.get("x-amz-object-lock-mode") == "COMPLIANCE"
    until = metadata.get("x-amz-object-lock-retain-until-date")
    assert until is not None and until.startswith("2033-06-15T09:30:00")
    assert list(services.store.list("audit/")) == [], "nothing in the records bucket"
    assert verify(services).ok
    with pytest.raises(S3Error, match="AccessDenied"):
        raw.remove_object(bucket, key, version_id=raw.stat_object(bucket, key).version_id)
