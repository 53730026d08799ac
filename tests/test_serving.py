"""``serve`` as deployed: several server processes beside one background worker process.

Real processes throughout: the process tree is read with psutil, records are
captured over HTTP and their text is extracted and indexed by the worker process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import col, select

from factories import Actors, capture, make_settings, make_user
from records_service.app import create_app
from records_service.audit.actions import AuditAction, ReadPayload
from records_service.audit.log import record_event
from records_service.audit.writer import prepare_audit
from records_service.db import read_scope, session_scope
from records_service.records.models import IndexTask, PendingSidecar, TextStatus, Version
from records_service.runtime.serve import activity_probe, restore_priority
from records_service.runtime.services import Services
from records_service.runtime.supervisor import HEALTHCHECK_SECONDS
from support.server import Serve, ServedWithToken
from support.waiting import READY_SECONDS, REQUEST_SECONDS, wait_until

PYTHON = sys.executable
QUIET = {"RECORDS_RETENTION__INTERVAL_HOURS": "0"}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "RECORDS_DATA_DIR": str(data_dir), **QUIET, **extra}


def _cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "records_service", *args],
        env=_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Serving(ServedWithToken):
    def tree(self) -> list[psutil.Process]:
        children: list[psutil.Process] = psutil.Process(self.process.pid).children(recursive=True)
        return children

    def workers(self) -> list[psutil.Process]:
        return [
            p for p in self.tree() if "worker" in p.cmdline() and "records_service" in p.cmdline()
        ]

    def server_processes(self) -> list[psutil.Process]:
        return [p for p in self.tree() if any("spawn_main" in arg for arg in p.cmdline())]


@pytest.fixture
def serving(tmp_path: Path, serve: Serve) -> Serving:
    assert _cli(tmp_path, "init").returncode == 0
    added = _cli(tmp_path, "users", "add", "sam", "--role", "staff")
    token = added.stdout.strip()
    served = serve(tmp_path, "--processes", "2", env=QUIET)
    return Serving(served, {"Authorization": f"Bearer {token}"})


def _capture(serving: Serving, text: bytes) -> str:
    files = {"file": ("minutes.txt", text, "text/plain")}
    data = {"title": "Panel minutes", "record_type": "minutes", "record_date": "2024-02-01"}
    response = httpx.post(
        f"{serving.base}/api/records",
        data=data,
        files=files,
        headers=serving.headers,
        timeout=REQUEST_SECONDS,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_serve_runs_background_work_in_its_own_lower_priority_process(serving: Serving) -> None:
    wait_until(lambda: len(serving.server_processes()) == 2, "two server processes")
    started = {p.pid for p in serving.server_processes()}
    [worker] = serving.workers()
    assert worker.ppid() == serving.process.pid
    assert worker.nice() >= os.nice(0) + 10
    # Every thread that does the work is SCHED_IDLE; the main thread only probes
    # for activity and checkpoints SQLite's log, at the normal policy.
    wait_until(lambda: _policies(worker.pid) == (os.SCHED_OTHER, True), "policies")
    assert _step_threads_idle(worker.pid)
    # The worker hears of the capture through the audit log, not from the server.
    record_id = _capture(serving, b"Quarterly monitoring of the helpline: kestrelwood.")

    def indexed() -> bool:
        found = httpx.get(
            f"{serving.base}/api/search",
            params={"q": "kestrelwood"},
            headers=serving.headers,
            timeout=REQUEST_SECONDS,
        )
        return found.status_code == 200 and [hit["record_id"] for hit in found.json()["hits"]] == [
            record_id
        ]

    wait_until(indexed, "the capture never became searchable by its text")
    record = httpx.get(
        f"{serving.base}/api/records/{record_id}", headers=serving.headers, timeout=REQUEST_SECONDS
    ).json()
    assert record["versions"][0]["text_status"] == "extracted"
    # No server process was taken for hung while it started, killed and replaced
    # (uvicorn's log said "Child process [N] died" on a busy machine).
    assert {p.pid for p in serving.server_processes()} == started
    children = serving.tree()
    serving.process.send_signal(signal.SIGTERM)
    assert serving.process.wait(READY_SECONDS) == 0
    _, alive = psutil.wait_procs(children, timeout=READY_SECONDS)
    assert alive == [], f"left running after serve stopped: {alive}"


def test_killed_serve_leaves_no_process_behind(serving: Serving) -> None:
    wait_until(lambda: len(serving.server_processes()) == 2, "two server processes")
    children = [*serving.server_processes(), *serving.workers()]
    assert len(children) == 3
    serving.process.kill()
    serving.process.wait()
    # Each one notices that its parent is gone and stops by itself.
    _, alive = psutil.wait_procs(children, timeout=READY_SECONDS)
    assert alive == [], f"orphans still running: {alive}"


def test_a_starting_server_process_is_given_time_before_it_counts_as_hung() -> None:
    # uvicorn's own 5 s is less than a server process takes to start on a loaded machine.
    assert HEALTHCHECK_SECONDS >= 30


def test_thread_mode_needs_one_server_process(tmp_path: Path) -> None:
    result = _cli(tmp_path, "serve", "--processes", "2", RECORDS_WORKERS__MODE="thread")
    assert result.returncode == 1
    assert "needs one server process" in result.stderr


def test_worker_command_stops_on_sigterm(tmp_path: Path) -> None:
    assert _cli(tmp_path, "init").returncode == 0
    process = subprocess.Popen(
        [PYTHON, "-m", "records_service", "worker"],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Ready once it has its own SIGTERM handler: before that, SIGTERM just kills it.
        wait_until(
            lambda: process.poll() is not None or _catches(process.pid, signal.SIGTERM),
            "the worker never installed its SIGTERM handler",
        )
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        # The steps' threads run under SCHED_IDLE; the main thread, which checkpoints
        # SQLite's log for the servers, keeps the normal policy.
        wait_until(
            lambda: _policies(process.pid) == (os.SCHED_OTHER, True),
            "the worker's main thread is not on the normal policy beside idle step threads",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(READY_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def test_stopping_puts_idle_threads_and_children_back_on_the_normal_policy() -> None:
    # A worker's threads run under SCHED_IDLE; to stop on a busy machine they need
    # the CPU back, and so does the extraction process they started.
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="idle-step")
    thread.start()
    child = subprocess.Popen([PYTHON, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert thread.native_id is not None
        idle = os.sched_param(0)
        for tid in (thread.native_id, child.pid):
            os.sched_setscheduler(tid, os.SCHED_IDLE, idle)
            assert os.sched_getscheduler(tid) == os.SCHED_IDLE
        restore_priority()
        assert os.sched_getscheduler(thread.native_id) == os.SCHED_OTHER
        assert os.sched_getscheduler(child.pid) == os.SCHED_OTHER
    finally:
        release.set()
        thread.join()
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def test_a_worker_that_could_not_leave_the_idle_policy_keeps_only_its_nice_value() -> None:
    # Without CAP_SYS_NICE, and with Linux's usual RLIMIT_NICE of 0 (the user of a
    # container, for one), a thread under SCHED_IDLE may never return to the normal
    # policy: a worker there could neither be lifted when starved nor stop on a busy
    # machine.
    code = (
        "import os\n"
        "from records_service.runtime.serve import lower_priority\n"
        "lower_priority(10, idle=True)\n"
        "print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    unprivileged = ["prlimit", "--nice=0:0", "--", "setpriv", "--inh-caps=-sys_nice"]
    result = subprocess.run(
        [*unprivileged, "--bounding-set=-sys_nice", PYTHON, "-c", code],
        capture_output=True,
        text=True,
        timeout=READY_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(os.SCHED_OTHER), str(min(os.nice(0) + 10, 19))]
    assert "grant CAP_SYS_NICE or a RLIMIT_NICE of at least" in result.stderr


def test_a_worker_kept_from_the_cpu_still_catches_up(tmp_path: Path, sqlite_url: str) -> None:
    # Under SCHED_IDLE the worker's threads hardly run while CPU-bound processes hold
    # every core; the starvation guard gives them nice 19 on the normal policy until the
    # backlog is gone, then the idle policy again.
    settings = make_settings(tmp_path, sqlite_url)
    log = tmp_path / "worker.log"
    with TestClient(create_app(settings, background=False)) as client, log.open("wb") as out:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        prepare_audit(settings, services.store)  # so that the worker signs checkpoints
        headers = make_user(services, "sam", "staff")
        worker = _start_worker(settings.data_dir, out, RECORDS_WORKERS__STARVATION_SECONDS="0.5")
        try:
            # Warm: the extraction process and the index are open before the load starts.
            assert capture(client, headers, contract=None).status_code == 201
            wait_until(lambda: _backlog(services.engine) == 0, "the worker never caught up")
            # Other load may have starved the warm-up too: let that episode end first.
            wait_until(lambda: _step_threads_idle(worker.pid), "not back on the idle policy")
            before = log.stat().st_size
            with _burners():
                for n in range(3):
                    text = b"Monitoring return %d" % n
                    assert capture(client, headers, text, contract=None).status_code == 201
                wait_until(lambda: _backlog(services.engine) == 0, "starved: never caught up")
                wait_until(lambda: _step_threads_idle(worker.pid), "not back on the idle policy")
                # The stop path still gets the threads the CPU they need to finish.
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(READY_SECONDS) == 0
        finally:
            _end(worker)
    lines = log.read_bytes()[before:].decode().splitlines()
    assert [line for line in lines if "at nice 19 until it catches up" in line], lines


def _start_worker(data_dir: Path, out: IO[bytes], **env: str) -> subprocess.Popen[bytes]:
    """``records-service worker``, once it runs its steps under SCHED_IDLE and stops on SIGTERM."""
    process = subprocess.Popen(
        [PYTHON, "-m", "records_service", "worker"],
        env={**os.environ, "RECORDS_DATA_DIR": str(data_dir), **QUIET, **env},
        stdout=subprocess.DEVNULL,
        stderr=out,
    )

    def ready() -> bool:
        assert process.poll() is None, "the worker ended"
        return _catches(process.pid, signal.SIGTERM) and _policies(process.pid) == (
            os.SCHED_OTHER,
            True,
        )

    try:
        wait_until(ready, "the worker never started its steps")
    except BaseException:
        _end(process)
        raise
    return process


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _burners() -> Iterator[None]:
    """A CPU-bound process on every usable core, on the normal policy like a busy server."""
    burners = [
        subprocess.Popen(
            [PYTHON, "-c", "print('burning', flush=True)\nwhile True: pass"],
            stdout=subprocess.PIPE,
        )
        for _ in os.sched_getaffinity(0)
    ]
    try:
        for burner in burners:
            assert burner.stdout is not None
            assert burner.stdout.readline() == b"burning\n"
        yield
    finally:
        for burner in burners:
            _end(burner)
            if burner.stdout is not None:
                burner.stdout.close()


def _backlog(engine: Engine) -> int:
    """Sidecars to write, texts to extract and index tasks to apply."""
    with read_scope(engine) as session:
        sidecars = session.exec(select(func.count()).select_from(PendingSidecar)).one()
        tasks = session.exec(select(func.count()).select_from(IndexTask)).one()
        pending = col(Version.text_status) == TextStatus.PENDING.value
        texts = session.exec(select(func.count()).select_from(Version).where(pending)).one()
    return int(sidecars) + int(tasks) + int(texts)


def _policies(pid: int) -> tuple[int, bool]:
    """The main thread's scheduling policy, and whether another thread is SCHED_IDLE."""
    others = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir() if int(t.name) != pid]
    idle = []
    for tid in others:
        try:
            idle.append(os.sched_getscheduler(tid) == os.SCHED_IDLE)
        except OSError:
            continue  # a thread that has just ended
    return os.sched_getscheduler(pid), any(idle)


def _step_threads_idle(pid: int) -> bool:
    """Whether every thread of ``pid`` but the main one runs under SCHED_IDLE."""
    policies = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        if int(task.name) != pid:
            with contextlib.suppress(OSError):  # a thread that has just ended
                policies.append(os.sched_getscheduler(int(task.name)))
    return bool(policies) and all(policy == os.SCHED_IDLE for policy in policies)


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``signum`` (Linux's /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def test_activity_probe_sees_new_audit_entries(services: Services, actors: Actors) -> None:
    changed = activity_probe(services.engine)
    assert changed() is False  # the first look only takes the size
    assert changed() is False
    with session_scope(services.engine) as session:
        record_event(
            session,
            actor="sam",
            action=AuditAction.RECORD_READ,
            subject="record:x",
            payload=ReadPayload(version=1, sha256="0" * 64),
            clock=services.clock,
        )
    assert changed() is True
    assert changed() is False


def test_the_worker_checkpoints_the_database_log_for_the_servers(
    serving: Serving, tmp_path: Path
) -> None:
    # In WAL mode only a checkpoint writes to the database file. With the worker
    # stopped, captures filling the log past SQLite's default threshold of 1000 pages
    # leave the file untouched: the server processes leave checkpoints to the worker.
    database, log = tmp_path / "records.db", tmp_path / "records.db-wal"
    [worker] = serving.workers()
    _suspend_outside_a_write(worker, database)
    try:
        before = _digest(database)
        for n in range(80):
            _capture(serving, b"Monitoring return %d" % n)
        assert log.stat().st_size > 1000 * (4096 + 24), "the log should hold 1000+ pages"
        assert _digest(database) == before
    finally:
        worker.resume()
    wait_until(lambda: _digest(database) != before, "the worker did not checkpoint the log")


def _suspend_outside_a_write(worker: psutil.Process, database: Path) -> None:
    """Stop ``worker`` at a moment it holds no write transaction: a worker stopped inside
    one would keep every capture waiting for the lock (and answered 503)."""

    def stopped_outside_a_write() -> bool:
        worker.suspend()
        probe = sqlite3.connect(database, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return True
        except sqlite3.OperationalError:  # "database is locked": let it finish, try again
            worker.resume()
            return False
        finally:
            probe.close()

    wait_until(stopped_outside_a_write, "the worker never left its write transaction")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
