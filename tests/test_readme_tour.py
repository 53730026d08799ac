"""The README's curl tour runs exactly as written against a served app.

The tour's commands are read from README.md (the ``sh`` block after ``<!-- tour -->``)
and run by bash, with real curl, in a directory laid out as the project's is (``.venv``
and ``data``), against ``records-service serve`` set up as ``scripts/serve.sh`` does.
The one change is the port: the tour's ``localhost:8000`` becomes the test server's.
The last step, the search, is run again until the background worker has indexed the
capture, as a reader would after a second or two.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.server import Serve
from support.waiting import READY_SECONDS, wait_until

README = Path(__file__).resolve().parents[1] / "README.md"
SEARCH_STEP = "# Find it by a phrase"


def tour() -> str:
    """The tour's commands, as the README gives them."""
    text = README.read_text(encoding="utf-8")
    after = text.split("<!-- tour -->", 1)[1]
    match = re.match(r"\s*```sh\n(.*?)\n```", after, re.S)
    assert match, "README.md has no sh block after <!-- tour -->"
    return match.group(1)


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=READY_SECONDS,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory laid out as a checkout after ``scripts/serve.sh``: ``.venv`` and ``data``."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def test_the_readme_tour_runs_as_written(project: Path, serve: Serve) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDS_")}
    init = _bash(".venv/bin/records-service init --first-admin admin", project, env)
    assert init.returncode == 0, init.stderr
    served = serve(
        project / "data", "--processes", "1", env={"RECORDS_WORKERS__POLL_SECONDS": "0.2"}
    )
    port = served.base_url.rsplit(":", 1)[1]
    steps, search = tour().replace("localhost:8000", f"localhost:{port}").split(SEARCH_STEP)
    done = _bash(steps + '\necho "H=$H"\n', project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    record_id = re.search(r"^record ([0-9a-f]{32})$", done.stdout, re.M)
    assert record_id, done.stdout
    assert '"reference":"OPCC-2023-014"' in done.stdout
    assert "the same bytes" in done.stdout
    letters = re.findall(r"^grant letter ([0-9a-f]{32})$", done.stdout, re.M)
    assert len(letters) == 2 and letters[0] == letters[1], done.stdout  # captured once
    assert '"number":2' in done.stdout and '"reason":"signed copy"' in done.stdout
    header = done.stdout.rsplit("H=", 1)[1].strip()

    def found() -> bool:
        answer = _bash(SEARCH_STEP + search, project, {**env, "H": header})
        assert answer.returncode == 0, answer.stderr
        return record_id.group(1) in answer.stdout

    wait_until(found, "the tour's search never found the captured record")
