"""From the README's first command to signing in: ``init --first-admin`` prints a password."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from factories import FixedClock
from records_service.app import create_app
from records_service.settings import Settings
from web.signin import sign_in


def test_first_admin_gets_a_web_password(tmp_path: Path, clock: FixedClock) -> None:
    env = {**os.environ, "RECORDS_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "records_service", "init", "--first-admin", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    match = re.search(r"web sign-in password.*\n\s+(\S+)", result.stdout)
    assert match, result.stdout
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        client.follow_redirects = False
        assert sign_in(client, "admin", "wrong password").status_code == 400
        assert sign_in(client, "admin", match.group(1)).status_code == 303
        assert "Signed in as" in client.get("/").text
