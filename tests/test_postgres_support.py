"""Tests for the throwaway PostgreSQL cluster in ``support.postgres``.

The session fixture lives here until the shared fixtures move to conftest.py.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from support.postgres import BIN_ENV_VAR, PostgresServer, find_bindir, running_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One cluster for the whole test session."""
    with running_postgres() as server:
        yield server


def _database_exists(server: PostgresServer, name: str) -> bool:
    rows = server.execute(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    return rows == [(1,)]


def test_database_round_trip_through_sqlalchemy(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("roundtrip")
    assert _database_exists(postgres_server, "roundtrip")

    engine = create_engine(postgres_server.url("roundtrip"))
    notes = Table(
        "notes",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("body", String(200), nullable=False),
    )
    try:
        notes.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(notes.insert(), [{"body": "first"}, {"body": "second £"}])
        with engine.connect() as conn:
            bodies = conn.execute(select(notes.c.body).order_by(notes.c.id)).scalars().all()
        assert bodies == ["first", "second £"]
    finally:
        # The pool keeps a connection open; drop_database must close it itself.
        postgres_server.drop_database("roundtrip")
        engine.dispose()
    assert not _database_exists(postgres_server, "roundtrip")


def test_server_is_fast_and_loopback_only(postgres_server: PostgresServer) -> None:
    settings = dict(
        postgres_server.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses')"
        )
    )
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "listen_addresses": "127.0.0.1",
    }
    [(version,)] = postgres_server.execute("SHOW server_version_num")
    assert int(version) >= 150000
    [(is_superuser,)] = postgres_server.execute("SELECT current_setting('is_superuser')")
    assert (postgres_server.user, is_superuser) == ("postgres", "on")


def test_cluster_is_stopped_and_removed_on_exit() -> None:
    with running_postgres() as server:
        directory = server.directory
        assert (directory / "data" / "PG_VERSION").is_file()
        if os.geteuid() == 0:
            # PostgreSQL refuses root, so the cluster must belong to the postgres user.
            assert (directory / "data").stat().st_uid != 0
    assert not directory.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=server.host, port=server.port, user="postgres", connect_timeout=2)
    with socket.socket() as probe:
        assert probe.connect_ex((server.host, server.port)) != 0


def test_bin_override_must_hold_initdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(BIN_ENV_VAR, str(tmp_path))
    with pytest.raises(RuntimeError, match="has no initdb"):
        find_bindir()
