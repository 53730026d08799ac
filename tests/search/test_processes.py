"""Crash safety and ``reindex`` with real server processes.

A server with its background worker off captures records (so their index
tasks stay in the database) and is killed with SIGKILL; a new server catches
up from the queue. ``records-service reindex`` run beside that live server
rebuilds an index that answers every query exactly as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from factories import make_user
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.server import Serve, ServedWithToken
from support.waiting import READY_SECONDS, REQUEST_SECONDS, wait_until

PYTHON = sys.executable
QUIET = {"RECORDS_RETENTION__INTERVAL_HOURS": "0", "RECORDS_WORKERS__POLL_SECONDS": "0.2"}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "RECORDS_DATA_DIR": str(data_dir), **QUIET, **extra}


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PYTHON, "-m", "records_service", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed: {result.stderr}"
    return result


class Server(ServedWithToken):
    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            self.base + path, params=params, headers=self.headers, timeout=REQUEST_SECONDS
        )
        assert response.status_code == 200, response.text
        return response.json()


def _start(serve: Serve, data_dir: Path, token: str, **env: str) -> Server:
    served = serve(data_dir, "--log-level", "warning", env={**QUIET, **env})
    return Server(served, {"Authorization": f"Bearer {token}"})


def _capture(server: Server, text: str, title: str, **form: str) -> str:
    data = {"title": title, "record_type": "minutes", "record_date": "2024-02-01", **form}
    files = {"file": ("doc.txt", text.encode(), "text/plain")}
    response = httpx.post(
        server.base + "/api/records",
        data=data,
        files=files,
        headers=server.headers,
        timeout=REQUEST_SECONDS,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _hits(server: Server, q: str, **params: Any) -> list[tuple[str, int]]:
    body = server.get("/api/search", q=q, page_size=200, **params)
    return [(hit["record_id"], hit["version"]) for hit in body["hits"]]


def _hits_once_built(server: Server, q: str) -> list[tuple[str, int]]:
    """The hits, or none while the index is still being built (a 503 that says so)."""
    response = httpx.get(
        server.base + "/api/search",
        params={"q": q},
        headers=server.headers,
        timeout=REQUEST_SECONDS,
    )
    if response.status_code == 503:
        assert response.json()["type"] == "urn:records-service:problem:index-rebuilding"
        return []
    assert response.status_code == 200, response.text
    return [(hit["record_id"], hit["version"]) for hit in response.json()["hits"]]


def _user_token(data_dir: Path) -> str:
    settings = Settings(data_dir=data_dir)
    services = Services.start(settings)
    try:
        headers = make_user(services, "sam", "staff")
    finally:
        services.close()
    return headers["Authorization"].removeprefix("Bearer ")


def _generation(data_dir: Path) -> str:
    # The default engine, tantivy, keeps its files in index/tantivy (see search/engine.py).
    pointer = json.loads((data_dir / "index" / "tantivy" / "index.json").read_text())
    return str(pointer["generation"])


QUERIES: list[dict[str, Any]] = [
    {"q": "helpline"},
    {"q": "helpline", "all_versions": "true"},
    {"q": '"referral figures"', "all_versions": "true"},
    {"q": "fund*", "sort": "date"},
    {"q": "", "all_versions": "true", "sort": "date"},
    {"q": "quarter NOT invoice"},
]
TEXTS = [
    "Helpline referral figures for the first quarter.",
    "Invoice for the helpline, second quarter, funded by the grant.",
    "Funding decision for the victims' helpline.",
    "Minutes: referral figures were discussed; funding agreed.",
]


def test_a_killed_server_loses_no_index_work_and_reindex_rebuilds_the_same_results(
    tmp_path: Path, serve: Serve
) -> None:
    token = _user_token(tmp_path)
    # 1. Captures acknowledged by a server whose indexing never ran, then SIGKILL.
    first = _start(serve, tmp_path, token, RECORDS_WORKERS__ENABLED="false")
    ids = [_capture(first, text, f"Record {n}") for n, text in enumerate(TEXTS)]
    assert first.get("/health")["index"]["pending"] == len(TEXTS)
    # Nothing is indexed: search says the index is still to be built, not "no hits".
    refused = httpx.get(
        first.base + "/api/search",
        params={"q": "helpline"},
        headers=first.headers,
        timeout=REQUEST_SECONDS,
    )
    assert (refused.status_code, refused.json()["type"]) == (
        503,
        "urn:records-service:problem:index-rebuilding",
    )
    first.process.kill()  # no shutdown code runs
    first.process.wait(READY_SECONDS)

    server = _start(serve, tmp_path, token)
    # 2. The next server builds its index and catches up from the durable queue.
    wait_until(lambda: len(_hits_once_built(server, "helpline")) == 3, "never indexed")
    response = httpx.post(
        f"{server.base}/api/records/{ids[0]}/versions",
        files={"file": ("v2.txt", b"Helpline figures, corrected.", "text/plain")},
        headers=server.headers,
        timeout=REQUEST_SECONDS,
    )
    assert response.status_code == 201, response.text
    wait_until(lambda: server.get("/health")["index"]["pending"] == 0, "not indexed")
    before = [_hits(server, **query) for query in QUERIES]
    assert all(before[:4]) and len(before[4]) == 5
    generation = _generation(tmp_path)

    # 3. reindex beside the running server: a new generation, the same answers.
    reindex = _cli(tmp_path, "reindex")

    assert "indexed 5 versions" in reindex.stdout
    assert "versions" in reindex.stderr  # the progress bar
    assert _generation(tmp_path) != generation
    assert [_hits(server, **query) for query in QUERIES] == before
    later = _capture(server, "A dolphin appears after the reindex.", "Later")
    wait_until(lambda: _hits(server, "dolphin") == [(later, 1)], "not indexed")
