"""A throwaway PostgreSQL cluster for the test session.

This module owns the whole life of one cluster: find the server binaries,
``initdb`` into a temp directory, start it on a free loopback port with its
unix socket inside that directory, wait until it accepts connections, and on
exit stop it (``pg_ctl stop -m fast``, then a kill if it hangs) and remove the
directory. Creating a database per test, and any rollback-per-test scheme, is
left to the fixtures that use it.

Why not pytest-postgresql: it runs ``initdb`` and ``pg_ctl`` as the current
user, and PostgreSQL refuses to run as root. Development containers and CI run
the suite as root, so here, when the effective user is root, every server
command runs as the ``postgres`` system user (``runuser -u postgres --``) and
the temp directory is handed to that user.

Durability is traded for speed (``fsync``, ``synchronous_commit`` and
``full_page_writes`` are off) and authentication is ``trust``: the cluster
lives for one test session, listens only on 127.0.0.1 and holds nothing that
matters.

Binaries are taken from ``RECORDS_TEST_PG_BIN`` if set, else from
``pg_config --bindir``, else from the newest ``/usr/lib/postgresql/*/bin``.
If anything cannot start, :func:`running_postgres` raises ``RuntimeError``
with the reason and the tail of the server log; it never skips.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BIN_ENV_VAR = "RECORDS_TEST_PG_BIN"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0

# Appended to postgresql.conf; the port is passed at start so a retry can change it.
_SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
"""


@dataclass(frozen=True)
class PostgresServer:
    """A running cluster: where it listens and how to reach it as the superuser."""

    host: str
    port: int
    user: str
    directory: Path

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``dbname`` as the superuser."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def execute(self, statement: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement in autocommit mode; return its rows (empty if it has none)."""
        with self._connect(dbname) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str) -> None:
        """Create an empty database called ``name``."""
        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, closing any connections still open to it."""
        with self._connect("postgres") as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _connect(self, dbname: str) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )


@contextlib.contextmanager
def running_postgres(*, start_timeout: float = START_TIMEOUT_S) -> Iterator[PostgresServer]:
    """Start a throwaway cluster, yield it, then stop it and remove its directory."""
    bindir = find_bindir()
    directory = _make_directory()
    datadir = directory / "data"
    try:
        _initdb(bindir, datadir)
        _configure(datadir, socket_dir=directory)
        port = _start(bindir, datadir, start_timeout)
        server = PostgresServer("127.0.0.1", port, SUPERUSER, directory)
        _wait_until_ready(server, start_timeout)
        yield server
    finally:
        # Also reached when start-up failed part-way: a postmaster may still be running.
        if (datadir / "postmaster.pid").exists():
            _stop(bindir, datadir)
        shutil.rmtree(directory, ignore_errors=True)


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    override = os.environ.get(BIN_ENV_VAR)
    if override:
        if not (Path(override) / "initdb").is_file():
            raise RuntimeError(f"{BIN_ENV_VAR}={override} has no initdb in it")
        return Path(override)
    for candidate in (_pg_config_bindir(), *_debian_bindirs()):
        if candidate is not None and (candidate / "initdb").is_file():
            return candidate
    raise RuntimeError(
        "PostgreSQL server binaries not found (no initdb via pg_config or under "
        f"/usr/lib/postgresql/*/bin); install them (scripts/setup-system.sh) or set {BIN_ENV_VAR}"
    )


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    result = subprocess.run(
        [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=10
    )
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _debian_bindirs() -> list[Path]:
    def major(path: Path) -> int:
        match = re.fullmatch(r"\d+", path.parent.name)
        return int(match.group()) if match else -1

    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _make_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="records-pg-"))
    if _running_as_root():
        try:
            account = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            shutil.rmtree(directory)
            raise RuntimeError(
                f"running as root, so PostgreSQL must run as the '{SYSTEM_USER}' user, "
                "which does not exist; install postgresql (scripts/setup-system.sh)"
            ) from None
        os.chown(directory, account.pw_uid, account.pw_gid)
        _check_reachable_by_system_user(directory)
    return directory


def _check_reachable_by_system_user(directory: Path) -> None:
    probe = _as_system_user(["test", "-w", str(directory)])
    if subprocess.run(probe, cwd="/", check=False, timeout=10).returncode != 0:
        shutil.rmtree(directory)
        raise RuntimeError(
            f"the '{SYSTEM_USER}' user cannot write to {directory}; "
            "point TMPDIR at a directory it can reach, such as /tmp"
        )


def _server_command(bindir: Path, program: str, *args: str) -> list[str]:
    return _as_system_user([str(bindir / program), *args])


def _as_system_user(command: list[str]) -> list[str]:
    if not _running_as_root():
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root but runuser is missing; cannot drop to postgres")
    return [runuser, "-u", SYSTEM_USER, "--", *command]


def _run(command: list[str], cwd: Path, timeout: float = COMMAND_TIMEOUT_S) -> None:
    try:
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{' '.join(command)} did not finish within {timeout} s") from exc
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )


def _initdb(bindir: Path, datadir: Path) -> None:
    # cwd is the temp dir: the postgres user may not be able to enter the caller's cwd.
    args = ["-D", str(datadir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"]
    _run(_server_command(bindir, "initdb", *args, "--no-sync"), cwd=datadir.parent)


def _configure(datadir: Path, *, socket_dir: Path) -> None:
    escaped = str(socket_dir).replace("'", "''")
    with (datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(_SERVER_SETTINGS.format(socket_dir=escaped))


def _start(bindir: Path, datadir: Path, timeout: float) -> int:
    """Start the server on a free port and return the port; retry if another process took it."""
    logfile = datadir.parent / "server.log"
    for _attempt in range(3):
        port = _free_port()
        log_offset = logfile.stat().st_size if logfile.exists() else 0
        command = _server_command(
            bindir, "pg_ctl", "start", "-D", str(datadir), "-l", str(logfile),
            "-o", f"-p {port}", "-w", "-t", str(int(timeout)),
        )  # fmt: skip
        try:
            _run(command, cwd=datadir.parent, timeout=timeout + 10)
            return port
        except RuntimeError as exc:
            # Another process may have taken the port between probing and binding.
            if "could not bind" not in _read_log(logfile, log_offset):
                raise RuntimeError(f"{exc}\nserver log:\n{_log_tail(logfile)}") from exc
    raise RuntimeError(f"no free port after 3 attempts; server log:\n{_log_tail(logfile)}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(server: PostgresServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL on port {server.port} did not accept connections within "
                    f"{timeout} s: {exc}\nserver log:\n{_log_tail(server.directory / 'server.log')}"
                ) from exc
            time.sleep(0.1)


def _stop(bindir: Path, datadir: Path) -> None:
    """Fast shutdown; if pg_ctl fails or hangs, kill the postmaster outright."""
    pid = _postmaster_pid(datadir)
    command = _server_command(
        bindir, "pg_ctl", "stop", "-D", str(datadir), "-m", "fast", "-w",
        "-t", str(int(STOP_TIMEOUT_S)),
    )  # fmt: skip
    try:
        _run(command, cwd=datadir.parent, timeout=STOP_TIMEOUT_S + 5)
    except RuntimeError:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        first_line = (datadir / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0]
    except OSError:
        return None
    return int(first_line) if first_line.strip().isdigit() else None


def _read_log(logfile: Path, offset: int = 0) -> str:
    try:
        with logfile.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _log_tail(logfile: Path, lines: int = 40) -> str:
    text = _read_log(logfile)
    return "\n".join(text.splitlines()[-lines:]) if text else "(server log is empty or missing)"
