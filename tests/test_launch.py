"""Starting ``records-service serve`` for the tests and benchmarks (records_service.runtime.launch):
a server that cannot start is reported with its output, at once when it exits and at
the deadline when it never answers, and is not left running; a port taken before the
server binds it is replaced."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

import pytest

from records_service.runtime.launch import START_SECONDS, ServerStartError, start_server


def test_a_server_that_exits_is_reported_at_once_with_its_output(tmp_path: Path) -> None:
    began = time.monotonic()
    with pytest.raises(ServerStartError, match="needs one server process") as failure:
        start_server(tmp_path, ["--processes", "2"], env={"RECORDS_WORKERS__MODE": "thread"})
    # Noticed by the exit, not by the deadline running out.
    assert time.monotonic() - began < START_SECONDS
    assert "exited with 1 before answering" in str(failure.value)


def test_a_server_that_does_not_answer_in_time_is_stopped(tmp_path: Path) -> None:
    # No server imports, migrates and opens its index in a tenth of a second.
    with pytest.raises(ServerStartError) as failure:
        start_server(tmp_path, ["--log-level", "warning"], start_seconds=0.1)
    assert "did not answer /health with 200 within 0.1 s" in str(failure.value)
    assert failure.value.served.process.poll() is not None, "the server was left running"


def test_a_port_taken_before_the_server_binds_it_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        served = start_server(tmp_path, ["--log-level", "warning"], port=port)
        try:
            assert served.port != port
            first = (tmp_path / f"serve-{port}.log").read_text()
            assert "address already in use" in first.lower()
            with urllib.request.urlopen(f"{served.base_url}/health", timeout=60) as answer:
                assert answer.status == 200
        finally:
            served.stop()
