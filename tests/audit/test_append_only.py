"""The database itself refuses to change or remove audit rows, on SQLite and PostgreSQL,
and on PostgreSQL the documented grants refuse it even with the triggers gone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from factories import FixedClock
from records_service.audit.actions import AuditAction, ReadPayload
from records_service.audit.grants import postgres_grants
from records_service.audit.log import record_event
from records_service.cli import main
from records_service.db import make_engine, session_scope
from support.postgres import PostgresServer

from .conftest import drop_append_only_guards

ENTRY_COLUMNS = "(idx, at, actor, action, subject, details)"
FORGED_VALUES = "(0, '2026-01-01 00:00:00.000000', 'mallory', 'record.read', 'record:x', '{}')"


@pytest.fixture
def engine(db_url: str, clock: FixedClock) -> Iterator[Engine]:
    """A migrated database holding two audit entries (and their nodes)."""
    engine = make_engine(db_url)
    for n in range(2):
        with session_scope(engine) as session:
            record_event(
                session,
                actor="alice",
                action=AuditAction.RECORD_READ,
                subject="record:r1",
                payload=ReadPayload(version=1, sha256=f"{n:064x}"),
                clock=clock,
            )
    yield engine
    engine.dispose()


def snapshot_rows(engine: Engine) -> tuple[list[tuple[object, ...]], ...]:
    with engine.connect() as conn:
        return tuple(
            [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
            for table in ("audit_entries", "audit_nodes")
        )


def refused(engine: Engine, statement: str) -> str:
    """Run ``statement``; it must fail. Return the error text."""
    with pytest.raises(DatabaseError) as caught, engine.begin() as conn:
        conn.execute(text(statement))
    return str(caught.value.orig)


STATEMENTS = {
    "update entry": "UPDATE audit_entries SET actor = 'mallory' WHERE idx = 0",
    "delete entry": "DELETE FROM audit_entries WHERE idx = 0",
    "update node": "UPDATE audit_nodes SET hash = hash WHERE level = 0 AND idx = 0",
    "delete node": "DELETE FROM audit_nodes WHERE idx = 0",
    "upsert entry": f"INSERT INTO audit_entries {ENTRY_COLUMNS} VALUES {FORGED_VALUES} "
    "ON CONFLICT (idx) DO UPDATE SET actor = excluded.actor",
    "upsert node": "INSERT INTO audit_nodes (level, idx, hash) "
    "SELECT level, idx, hash FROM audit_nodes WHERE idx = 0 "
    "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_changes_are_refused(engine: Engine, name: str) -> None:
    before = snapshot_rows(engine)
    message = refused(engine, STATEMENTS[name])
    assert "append-only" in message
    assert snapshot_rows(engine) == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("table", ["audit_entries", "audit_nodes"])
def test_sqlite_insert_or_replace_is_refused(engine: Engine, table: str) -> None:
    before = snapshot_rows(engine)
    statement = (
        f"INSERT OR REPLACE INTO audit_entries {ENTRY_COLUMNS} VALUES {FORGED_VALUES}"
        if table == "audit_entries"
        else "INSERT OR REPLACE INTO audit_nodes (level, idx, hash) "
        "SELECT level, idx, zeroblob(32) FROM audit_nodes WHERE idx = 0 AND level = 0"
    )
    assert "REPLACE refused" in refused(engine, statement)
    assert snapshot_rows(engine) == before


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("table", ["audit_entries", "audit_nodes", "audit_checkpoints"])
def test_postgres_truncate_is_refused(engine: Engine, table: str) -> None:
    before = snapshot_rows(engine)
    assert "TRUNCATE refused" in refused(engine, f"TRUNCATE {table} CASCADE")
    assert snapshot_rows(engine) == before


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_grants_refuse_changes_even_without_triggers(
    engine: Engine, db_url: str, pg_server: PostgresServer, clock: FixedClock
) -> None:
    role = f"app_{uuid.uuid4().hex[:10]}"
    dbname = make_url(db_url).database
    assert dbname is not None
    pg_server.execute(f"CREATE ROLE {role} LOGIN")
    app_engine = make_engine(
        f"postgresql+psycopg://{role}@{pg_server.host}:{pg_server.port}/{dbname}"
    )
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(postgres_grants(role))
        drop_append_only_guards(engine)
        # The service role can still do its job: append an entry.
        with session_scope(app_engine) as session:
            entry = record_event(
                session,
                actor="bob",
                action=AuditAction.RECORD_READ,
                subject="record:r2",
                payload=ReadPayload(version=1, sha256="f" * 64),
                clock=clock,
            )
        assert entry.idx == 2
        before = snapshot_rows(engine)
        for statement in [*STATEMENTS.values(), "TRUNCATE audit_entries CASCADE"]:
            assert "permission denied" in refused(app_engine, statement), statement
        assert snapshot_rows(engine) == before
        # Without the grants' protection the superuser's change goes through: the triggers
        # really are gone, so it was the grants that refused the service role.
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_entries SET actor = 'x' WHERE idx = 0"))
    finally:
        app_engine.dispose()
        pg_server.execute(f"DROP OWNED BY {role}", dbname)
        pg_server.execute(f"DROP ROLE {role}")


def test_grants_command_prints_the_script_for_a_role() -> None:
    result = CliRunner().invoke(main, ["audit", "grants", "--role", "opcc_records"])
    assert result.exit_code == 0
    assert (
        "GRANT SELECT, INSERT ON audit_entries, audit_nodes, audit_checkpoints TO opcc_records;"
        in result.output
    )
    assert "records_app" not in result.output
    refused = CliRunner().invoke(main, ["audit", "grants", "--role", "x; DROP TABLE users"])
    assert refused.exit_code != 0 and "not a plain PostgreSQL role name" in refused.output
