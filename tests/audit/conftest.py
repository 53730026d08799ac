"""Fixtures for audit tests that work on a real database: services with a signing key,
quick appends through the real append path, and the moves of an attacker with
database and file-system access (dropping the append-only guards, rewriting files)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from factories import FixedClock, make_settings
from records_service.audit.actions import AuditAction, ReadPayload
from records_service.audit.keys import ensure_signing_key, trusted_keys
from records_service.audit.log import record_event
from records_service.audit.verify import VerifyReport, verify_log
from records_service.audit.writer import build_checkpoint_store, writer_for
from records_service.db import is_sqlite, session_scope
from records_service.runtime.services import Services
from records_service.settings import AuditSettings, Settings

APPEND_ONLY_TABLES = ("audit_entries", "audit_nodes", "audit_checkpoints")


@pytest.fixture
def audit_settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings on the parametrised database with a small checkpoint interval."""
    return make_settings(
        tmp_path,
        db_url,
        audit=AuditSettings(
            checkpoint_every_entries=4, origin="opcc.test/audit", verify_processes=1
        ),
    )


@contextmanager
def started(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    """Services whose signing key exists (as after ``init``), closed afterwards."""
    ensure_signing_key(settings)
    services = Services.start(settings, clock=clock)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def audit_services(audit_settings: Settings, clock: FixedClock) -> Iterator[Services]:
    """Started services with a signing key, on the parametrised database."""
    with started(audit_settings, clock) as services:
        yield services


@pytest.fixture
def sqlite_audit_services(tmp_path: Path, sqlite_url: str, clock: FixedClock) -> Iterator[Services]:
    """The same on SQLite only, for tests whose subject is not the database."""
    settings = make_settings(tmp_path, sqlite_url, audit=AuditSettings(origin="opcc.test/audit"))
    with started(settings, clock) as services:
        yield services


def append_reads(services: Services, count: int, *, actor: str = "alice") -> None:
    """Append ``count`` record.read entries, one transaction each, as the service does."""
    for n in range(count):
        with session_scope(services.engine) as session:
            record_event(
                session,
                actor=actor,
                action=AuditAction.RECORD_READ,
                subject=f"record:r{n % 3}",
                payload=ReadPayload(version=1 + n % 2, sha256=f"{n:064x}"),
                clock=services.clock,
            )


def sign_now(services: Services) -> int:
    """Publish a checkpoint of the whole log now; return its size."""
    written = writer_for(
        services.settings, engine=services.engine, store=services.store, clock=services.clock
    ).publish()
    assert written is not None, "expected new entries to checkpoint"
    return written.tree_size


def verify(services: Services, *, keys: list[str] | None = None) -> VerifyReport:
    """Run the database verifier as ``audit verify`` does."""
    return verify_log(
        services.engine,
        checkpoint_store=build_checkpoint_store(services.settings, services.store),
        trusted_keys=keys if keys is not None else trusted_keys(services.settings),
        origin=services.settings.audit.origin,
        processes=services.settings.audit.verify_processes,
        parallel_min_entries=0,  # spread even a small log when the settings ask for processes
    )


def drop_append_only_guards(engine: Engine) -> None:
    """What an attacker with database access does first."""
    with engine.begin() as conn:
        for table in APPEND_ONLY_TABLES:
            if is_sqlite(engine):
                for suffix in ("no_update", "no_delete", "no_replace"):
                    conn.execute(text(f"DROP TRIGGER {table}_{suffix}"))
            else:
                for suffix in ("no_update_delete", "no_truncate"):
                    conn.execute(text(f"DROP TRIGGER {table}_{suffix} ON {table}"))


def overwrite_store_file(services: Services, key: str, content: str) -> None:
    """Rewrite a read-only object of the local store, as someone with file access could."""
    path = services.settings.blob_root / key
    os.chmod(path, 0o644)
    path.write_text(content, encoding="utf-8")
