"""Spreading keep-alive connections: the shared table of connection counts, and the
middleware that closes a connection while its process holds more than its share."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message

from records_service.runtime.connection_balancer import (
    SLOT,
    WINDOW_SECONDS,
    BalancedConnections,
    ConnectionTable,
    create_table,
)
from records_service.runtime.serve import open_connection_table
from support.server import Serve
from support.waiting import READY_SECONDS, wait_until


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    path = tmp_path / "run" / "connections"
    create_table(path)
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def _endpoint(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _answer(app: BalancedConnections, port: int) -> dict[bytes, bytes]:
    """One request from the client at ``port``; the response's headers."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {"type": "http", "client": ("127.0.0.1", port), "method": "GET", "path": "/"}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    return dict(start["headers"])


def test_a_process_alone_never_closes(table_path: Path) -> None:
    app = BalancedConnections(_endpoint, table=ConnectionTable(table_path))
    for port in range(5000, 5006):
        assert b"connection" not in _answer(app, port)


def test_connections_above_the_share_are_closed(table_path: Path) -> None:
    mine = ConnectionTable(table_path)
    other = ConnectionTable(table_path)  # another server process, with no clients
    other.publish(0)
    app = BalancedConnections(_endpoint, table=mine)

    # Two clients of two processes: each process's share is one, so the second
    # client is asked to reconnect, and counts no longer once it has gone.
    assert b"connection" not in _answer(app, 5001)
    assert _answer(app, 5002) == {b"connection": b"close"}
    assert b"connection" not in _answer(app, 5001)

    # Once the other process holds two clients, two here are its share, and three
    # (of five) are as even as five can be.
    other.publish(2)
    assert b"connection" not in _answer(app, 5003)
    assert b"connection" not in _answer(app, 5004)
    # With one there, a fourth here is more than the share of five, and three of
    # four are still more than two: the next to ask is closed too, then two stay.
    other.publish(1)
    assert _answer(app, 5005) == {b"connection": b"close"}
    assert _answer(app, 5001) == {b"connection": b"close"}
    assert b"connection" not in _answer(app, 5003)
    assert b"connection" not in _answer(app, 5004)


def test_an_even_split_is_left_alone(table_path: Path) -> None:
    mine, other = ConnectionTable(table_path), ConnectionTable(table_path)
    other.publish(2)
    app = BalancedConnections(_endpoint, table=mine)
    for _ in range(3):
        for port in (5001, 5002):
            assert b"connection" not in _answer(app, port)


def test_stale_counts_and_exited_processes_do_not_count(table_path: Path) -> None:
    now = [1000.0]
    mine = ConnectionTable(table_path, clock=lambda: now[0])
    idle = ConnectionTable(table_path, clock=lambda: now[0])
    idle.publish(6)
    mine.publish(2)
    assert mine.share() == 4  # 8 connections over 2 processes
    now[0] += WINDOW_SECONDS + 0.1
    mine.publish(2)
    assert mine.share() == 1  # the idle process's count is old: its clients have gone

    # A slot left by a process that exited is not counted, and is handed out again.
    with table_path.open("r+b") as raw:
        raw.seek(2 * SLOT.size)
        raw.write(SLOT.pack(_dead_pid(), 50, now[0]))
    assert mine.share() == 1
    newcomer = ConnectionTable(table_path)
    newcomer.publish(0)
    pid, _, _ = SLOT.unpack_from(table_path.read_bytes(), 2 * SLOT.size)
    assert pid == os.getpid()
    assert mine.share() == 1  # 2 connections over 3 processes


def test_serve_creates_the_table_and_removes_it_on_exit(tmp_path: Path, serve: Serve) -> None:
    env = {**os.environ, "RECORDS_DATA_DIR": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "records_service", "init"], env=env, check=True, capture_output=True
    )
    server = serve(tmp_path, "--processes", "2", env={"RECORDS_WORKERS__ENABLED": "false"})
    table = tmp_path / "run" / f"connections-{server.pid}"
    wait_until(lambda: _claimed_slots(table) >= 2, "both server processes should hold a slot")
    assert _claimed_slots(table) == 2, "both server processes should hold a slot"
    server.stop(timeout=READY_SECONDS)
    assert server.process.returncode == 0
    assert not table.exists()


def _claimed_slots(table: Path) -> int:
    if not table.exists():
        return 0
    data = table.read_bytes()
    slots = [SLOT.unpack_from(data, i * SLOT.size) for i in range(len(data) // SLOT.size)]
    return sum(1 for pid, _, _ in slots if pid > 0)


def test_a_server_process_starts_without_balancing_if_the_table_is_gone(
    table_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(open_connection_table(str(table_path)), ConnectionTable)
    table_path.unlink()
    with caplog.at_level(logging.WARNING):
        assert open_connection_table(str(table_path)) is None
    assert "not balanced" in caplog.text
    assert open_connection_table(None) is None
