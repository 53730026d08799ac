"""scripts/setup-system.sh waits, within a bound, for another apt-get or dpkg to let go of
the package manager's lock instead of failing at once.

The script is sourced and its apt-get step run against a stand-in ``apt-get`` on the
PATH that fails as apt-get does while another process holds the lock (the injected
fault), so nothing is installed and no root is needed.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup-system.sh"
LOCKED = "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)"
# Fails on the lock while the file `locked-calls` says so (one more time per line),
# then answers as the real command does; every call's arguments go to `calls`.
FAKE_APT_GET = f"""#!/usr/bin/env bash
echo "$*" >>"$FAKE_DIR/calls"
if [[ -s "$FAKE_DIR/locked-calls" ]]; then
  sed -i 1d "$FAKE_DIR/locked-calls"
  echo "{LOCKED}" >&2
  exit 100
fi
if [[ -e "$FAKE_DIR/broken" ]]; then
  echo "E: Unable to locate package nonesuch" >&2
  exit 100
fi
echo "Reading package lists..."
"""


def _apt_get_waiting(
    tmp_path: Path, *args: str, locked_calls: int = 0, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "bin" / "apt-get"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_APT_GET)
    fake.chmod(0o755)
    (tmp_path / "locked-calls").write_text("locked\n" * locked_calls)
    # as_root is replaced: the stand-in needs no sudo.
    script = f'source "{SCRIPT}"; as_root() {{ "$@"; }}; apt_get_waiting "$@"'
    env = {
        **os.environ,
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "FAKE_DIR": str(tmp_path),
        "LOCK_TIMEOUT": str(timeout),
        "LOCK_RETRY_SECONDS": "0.1",
    }
    return subprocess.run(
        ["bash", "-c", script, "setup-system", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().splitlines()


def test_a_held_lock_is_waited_for_and_said_so(tmp_path: Path) -> None:
    result = _apt_get_waiting(tmp_path, "update", locked_calls=3)
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path) == ["-o DPkg::Lock::Timeout=600 update"] * 4
    assert result.stdout.count("waiting up to 600 s") == 1
    assert "process 4242 (apt-get) holds the package manager's lock" in result.stdout


def test_the_wait_is_bounded_and_names_the_holder(tmp_path: Path) -> None:
    began = time.monotonic()
    result = _apt_get_waiting(tmp_path, "update", locked_calls=10_000, timeout=2)
    assert result.returncode != 0
    assert time.monotonic() - began < 60
    assert len(_calls(tmp_path)) >= 2  # tried again before giving up
    assert (
        "gave up after 2 s: process 4242 (apt-get) still holds the package manager's lock"
        in result.stderr
    )
    assert LOCKED in result.stderr  # apt-get's own words too


def test_other_failures_are_not_retried(tmp_path: Path) -> None:
    (tmp_path / "broken").touch()
    result = _apt_get_waiting(tmp_path, "install", "-y", "nonesuch")
    assert result.returncode != 0
    assert _calls(tmp_path) == ["-o DPkg::Lock::Timeout=600 install -y nonesuch"]
    assert "Unable to locate package nonesuch" in result.stderr
    assert "gave up" not in result.stderr


def _present(probe: str) -> bool:
    script = f'set -euo pipefail; source "{SCRIPT}"; is_present "$1"'
    result = subprocess.run(
        ["bash", "-c", script, "setup-system", probe], capture_output=True, timeout=60, check=False
    )
    return result.returncode == 0


def test_a_shared_library_is_found_in_the_linkers_cache() -> None:
    # A library is probed by name: where the file lives depends on the architecture.
    # libc is always there; a prefix of a name is not the name.
    assert _present("lib:libc.so.6")
    assert not _present("lib:libnonesuch-1.0.so.0")
    assert not _present("lib:libc.so")


def test_the_fonts_the_panels_report_embeds_are_required() -> None:
    text = SCRIPT.read_text()
    assert '"fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"' in text
