"""The test suite's way to run ``records-service serve`` as a real process.

Every test that needs a server process takes the ``serve`` fixture (tests/conftest.py),
which starts servers through :mod:`records_service.runtime.launch` (shared with the
benchmarks): a free loopback port, readiness polled on ``/health`` within a deadline a
loaded machine meets, the server's output shown when it fails to start, and each
server stopped (SIGTERM, wait, kill) when the test ends.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from records_service.runtime.launch import ServedProcess, start_server


class Serve(Protocol):
    """Start ``serve SERVE_ARGS`` on ``data_dir`` with ``env`` added to the environment."""

    def __call__(
        self, data_dir: Path, *serve_args: str, env: Mapping[str, str] | None = None
    ) -> ServedProcess: ...


def serving_for_a_test() -> Iterator[Serve]:
    """The ``serve`` fixture's body: a starter, then every server it started is stopped."""
    started: list[ServedProcess] = []

    def serve(
        data_dir: Path, *serve_args: str, env: Mapping[str, str] | None = None
    ) -> ServedProcess:
        served = start_server(data_dir, serve_args, env=env)
        started.append(served)
        return served

    try:
        yield serve
    finally:
        for served in reversed(started):
            served.stop()


@dataclass
class ServedWithToken:
    """A served process and the headers that call it with one user's bearer token."""

    served: ServedProcess
    headers: dict[str, str]

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.served.process

    @property
    def base(self) -> str:
        return self.served.base_url
