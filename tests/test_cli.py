"""The command line, run as real processes: init, users, serve with --host/--port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.server import Serve
from support.waiting import REQUEST_SECONDS, wait_until

PYTHON = sys.executable


def _run(
    data_dir: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PYTHON, "-m", "records_service", *args],
        env={**os.environ, "RECORDS_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stderr}")
    return result


def test_help_lists_commands(tmp_path: Path) -> None:
    out = _run(tmp_path, "--help").stdout
    for command in ("init", "serve", "users"):
        assert command in out
    assert "--port" in _run(tmp_path, "serve", "--help").stdout


def test_users_add_list_disable(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    token = _run(tmp_path, "users", "add", "carol", "--role", "staff", "--role", "reviewer").stdout
    assert token.strip().startswith("rs_")
    listing = _run(tmp_path, "users", "list").stdout
    assert "carol\tstaff,reviewer\tactive" in listing
    _run(tmp_path, "users", "disable", "carol")
    assert "carol\tstaff,reviewer\tdisabled" in _run(tmp_path, "users", "list").stdout
    refused = _run(tmp_path, "users", "token", "carol", check=False)
    assert (
        refused.returncode == 1 and "is disabled" in refused.stderr and "rs_" not in refused.stdout
    )
    duplicate = _run(tmp_path, "users", "add", "carol", "--role", "staff", check=False)
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    bad_role = _run(tmp_path, "users", "add", "dan", "--role", "wizard", check=False)
    assert bad_role.returncode != 0 and "unknown role" in bad_role.stderr


def test_users_disable_keeps_an_active_admin(tmp_path: Path, db_url: str) -> None:
    env = {"RECORDS_DATABASE_URL": db_url}
    _run(tmp_path, "init", env=env)
    _run(tmp_path, "users", "add", "ada", "--role", "admin", env=env)
    refused = _run(tmp_path, "users", "disable", "ada", check=False, env=env)
    assert refused.returncode == 1 and "last active admin" in refused.stderr
    assert "ada\tadmin\tactive" in _run(tmp_path, "users", "list", env=env).stdout
    _run(tmp_path, "users", "add", "ann", "--role", "staff", "--role", "admin", env=env)
    _run(tmp_path, "users", "disable", "ada", env=env)
    again = _run(tmp_path, "users", "disable", "ann", check=False, env=env)
    assert again.returncode == 1 and "last active admin" in again.stderr
    listing = _run(tmp_path, "users", "list", env=env).stdout
    assert "ada\tadmin\tdisabled" in listing and "ann\tstaff,admin\tactive" in listing


def test_users_tokens_lists_and_revoke_token_revokes(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    first = _run(tmp_path, "users", "add", "carol", "--role", "staff").stdout.strip()
    _run(tmp_path, "users", "token", "carol", "--label", "laptop")
    rows = [
        line.split("\t") for line in _run(tmp_path, "users", "tokens", "carol").stdout.splitlines()
    ]
    assert [(row[2], row[3]) for row in rows] == [
        ("active", "created with user"),
        ("active", "laptop"),
    ]
    assert first.startswith(f"rs_{rows[0][0]}_")
    # The whole token text is accepted as well as its id.
    assert _run(tmp_path, "users", "revoke-token", first).stdout.strip() == f"revoked {rows[0][0]}"
    states = [
        line.split("\t")[2]
        for line in _run(tmp_path, "users", "tokens", "carol").stdout.splitlines()
    ]
    assert states[0].startswith("revoked ") and states[1] == "active"
    again = _run(tmp_path, "users", "revoke-token", rows[0][0], check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr
    unknown = _run(tmp_path, "users", "tokens", "nobody", check=False)
    assert unknown.returncode == 1 and "nobody" in unknown.stderr


def test_init_first_admin_only_once(tmp_path: Path) -> None:
    first = _run(tmp_path, "init", "--first-admin", "admin").stdout
    assert "created admin user 'admin'" in first and "rs_" in first
    again = _run(tmp_path, "init", "--first-admin", "admin").stdout
    assert "created admin user" not in again


@pytest.fixture
def server(tmp_path: Path, serve: Serve) -> tuple[str, str]:
    token = _run(tmp_path, "users", "add", "sam", "--role", "staff").stdout.strip()
    return serve(tmp_path).base_url, token


def test_serve_answers_api_and_docs(server: tuple[str, str]) -> None:
    base, token = server
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=REQUEST_SECONDS) as http:
        assert http.get("/docs").status_code == 200
        spec = http.get("/openapi.json").json()
        assert {"/api/records", "/api/users", "/api/tokens/{token_id}/revoke"} <= set(spec["paths"])
        contract = {"reference": "OPCC-2023-014", "title": "Helpline", "status": "active"}
        assert http.post("/api/contracts", json=contract).status_code == 201
        files = {"file": ("a.txt", b"helpline minutes", "text/plain")}
        data = {"title": "Minutes", "record_type": "minutes", "record_date": "2024-02-01"}
        created = http.post("/api/records", data=data, files=files)
        assert created.status_code == 201, created.text
        # The server's background worker extracts the text after commit.
        record_url = f"/api/records/{created.json()['id']}"

        def text_status() -> str:
            return str(http.get(record_url).json()["versions"][0]["text_status"])

        wait_until(lambda: text_status() != "pending", "the text was never extracted")
        assert text_status() == "extracted"


def test_check_lists_unfinished_writes_and_fails_on_an_orphan(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    blobs = tmp_path / "blobs"
    crashed = blobs / "records" / "r1" / ".put-abc123"
    recent = blobs / "records" / "r2" / ".put-def456"
    for path in (crashed, recent):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half an upload")
    two_hours_ago = time.time() - 7200
    os.utime(crashed, (two_hours_ago, two_hours_ago))

    clean = _run(tmp_path, "check")
    assert f"unfinished write (may be removed): {crashed}" in clean.stdout
    assert str(recent) not in clean.stdout
    assert "store and catalogue agree" in clean.stdout

    (blobs / "records" / "r1" / "v1").write_bytes(b"no row names me")
    orphan = _run(tmp_path, "check", check=False)
    assert orphan.returncode == 1
    assert "orphan object (no catalogue row): records/r1/v1" in orphan.stdout


def test_retention_run_refuses_a_day_outside_the_service_range(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    for day, side in (("9999-12-31", "after"), ("1066-10-14", "before")):
        result = _run(tmp_path, "retention", "run", "--at", day, check=False)
        assert result.returncode == 2, result.stderr
        assert f"{day} is {side} the dates the service accepts" in result.stderr
    assert _run(tmp_path, "retention", "run", "--at", "2199-12-31").returncode == 0


def test_check_with_the_blob_store_down_says_so_without_a_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RECORDS_DATA_DIR": str(tmp_path / "data"),
        "RECORDS_STORAGE__BACKEND": "s3",
        "RECORDS_STORAGE__ENDPOINT": "127.0.0.1:9",  # nothing listens on the discard port
        "RECORDS_STORAGE__SECURE": "false",
        "RECORDS_STORAGE__ACCESS_KEY": "key",
        "RECORDS_STORAGE__SECRET_KEY": "secret",
    }
    result = subprocess.run(
        [sys.executable, "-m", "records_service", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=REQUEST_SECONDS,
    )
    assert result.returncode == 1
    assert "Error: the blob store is unavailable:" in result.stderr
    assert "Traceback" not in result.stderr
