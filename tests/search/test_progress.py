"""A rebuild's progress, written by the rebuilding process and read by any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract
from records_service.runtime.services import Services
from records_service.search.feed import rebuild_from_database
from records_service.search.progress import PROGRESS_FILE, progress_writer, read_progress


def test_the_count_is_readable_while_the_rebuild_runs_and_gone_after(
    client: TestClient, services: Services, actors: Actors, tmp_path: Path
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    for n in range(3):
        assert capture(client, actors.staff, title=f"Return {n}").status_code == 201
    seen: list[tuple[int, int] | None] = []

    def look(done: int) -> None:
        found = read_progress(tmp_path)
        seen.append(None if found is None else (found.pid, found.total))

    assert services.index is not None
    count = rebuild_from_database(services.engine, services.index, look, progress_dir=tmp_path)
    assert count == 3
    assert seen and all(item == (os.getpid(), 3) for item in seen)
    assert read_progress(tmp_path) is None
    assert not (tmp_path / PROGRESS_FILE).exists()


def test_a_file_left_by_a_dead_process_is_not_reported(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    report, _ = progress_writer(tmp_path, 10)
    report(10)
    stored = json.loads((tmp_path / PROGRESS_FILE).read_text())
    assert read_progress(tmp_path) is not None
    (tmp_path / PROGRESS_FILE).write_text(json.dumps({**stored, "pid": int(gone.stdout)}))
    assert read_progress(tmp_path) is None
    (tmp_path / PROGRESS_FILE).write_text("{not json")
    assert read_progress(tmp_path) is None


def test_health_shows_a_rebuild_in_another_process(client: TestClient, services: Services) -> None:
    assert client.get("/health").json()["index"]["rebuild"] is None
    report, finish = progress_writer(services.settings.index_path, 200)
    report(200)  # the last count is always written
    try:
        rebuild = client.get("/health").json()["index"]["rebuild"]
        assert (rebuild["done"], rebuild["total"], rebuild["percent"]) == (200, 200, 100.0)
    finally:
        finish()
    assert client.get("/health").json()["index"]["rebuild"] is None
