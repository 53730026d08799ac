"""Sign-in throttling (issue 17, defect 6): lockouts per user name and per client
address, released by time or by an administrator, audited; the same Argon2 work for
unknown names; the change-password form under the same rules. On both databases,
since the lockouts live in the database for every server process to see."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import col, select

from factories import FixedClock, make_settings
from records_service.app import create_app
from records_service.audit.models import AuditEntry
from records_service.auth.passwords import DUMMY_HASH, _hasher, hash_password
from records_service.auth.service import disable_user
from records_service.auth.signin import Attempt, check_sign_in
from records_service.cli import main
from records_service.db import session_scope
from records_service.errors import TooManyAttempts, Unauthenticated
from records_service.runtime.services import Services
from records_service.settings import AuthSettings, Settings
from web.signin import PASSWORD, add_person, csrf_of, sign_in

CLIENT_LIMIT = 8
ELSEWHERE = ("198.51.100.7", 40000)


@pytest.fixture
def door_settings(tmp_path: Any, db_url: str) -> Settings:
    """Default throttling, but a lower limit per address (each failure costs Argon2)."""
    settings = make_settings(tmp_path, db_url)
    return settings.model_copy(update={"auth": AuthSettings(signin_client_failures=CLIENT_LIMIT)})


@pytest.fixture
def door(door_settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """A browser at the address ``testclient``, with sam (staff) and ada (admin)."""
    app = create_app(door_settings, clock=clock, background=False)
    with TestClient(app, follow_redirects=False) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        add_person(services, "sam", "staff")
        add_person(services, "ada", "admin")
        yield client


@pytest.fixture
def door_services(door: TestClient) -> Services:
    services: Services = door.app.state.services  # type: ignore[attr-defined]
    return services


def elsewhere(door: TestClient) -> TestClient:
    """Another browser of the same app, at another address."""
    return TestClient(door.app, follow_redirects=False, client=ELSEWHERE)


def entries(services: Services, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with session_scope(services.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.idx))
        )
        return [(row.actor, row.subject, json.loads(row.details)) for row in rows]


def fail(client: TestClient, username: str, times: int) -> list[Response]:
    return [sign_in(client, username, "not the password") for _ in range(times)]


def test_wrong_passwords_lock_the_name_until_the_lockout_ends(
    door: TestClient, door_services: Services, clock: FixedClock
) -> None:
    assert [r.status_code for r in fail(door, "sam", 5)] == [400] * 5
    refused = sign_in(door, "sam")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "too many failed attempts to sign in with this username" in refused.text
    assert "Try again in 1 minute, or ask an administrator" in refused.text
    # The name is locked wherever the attempt comes from.
    assert sign_in(elsewhere(door), "sam").status_code == 429
    assert entries(door_services, "auth.lockout") == [
        ("-", "user:sam", {"scope": "account", "name": "sam", "failures": 5, "seconds": 60})
    ]
    clock.advance(seconds=59)
    assert sign_in(door, "sam").status_code == 429
    clock.advance(seconds=1)
    assert sign_in(door, "sam").status_code == 303
    assert door.get("/").status_code == 200


def test_each_failure_after_a_lockout_doubles_it_and_success_forgets(
    door: TestClient, door_services: Services, clock: FixedClock
) -> None:
    fail(door, "sam", 5)
    clock.advance(seconds=60)
    assert fail(door, "sam", 1)[0].status_code == 400
    assert sign_in(door, "sam").headers["retry-after"] == "120"
    clock.advance(seconds=120)
    assert sign_in(door, "sam").status_code == 303
    # Signing in forgot the name's failures: the next mistake is the first again
    # (from another address: this one's failures are remembered on their own).
    other = elsewhere(door)
    assert [r.status_code for r in fail(other, "sam", 4)] == [400] * 4
    assert sign_in(other, "sam").status_code == 303


def test_refused_attempts_are_not_checked_but_counted_in_the_log(
    door: TestClient, door_services: Services, clock: FixedClock, monkeypatch: Any
) -> None:
    fail(door, "sam", 5)
    calls = count_argon2(monkeypatch)
    for _ in range(30):
        assert sign_in(door, "sam").status_code == 429
    assert calls == [], "a locked name is refused before Argon2 runs"
    refusals = [d for _, _, d in entries(door_services, "auth.failure") if "locked" in d["reason"]]
    assert [(d["count"], d["source"]) for d in refusals] == [(1, "testclient")]
    clock.advance(seconds=door_services.settings.auth.failure_interval_seconds)
    door_services.run_background_once()
    refusals = [d for _, _, d in entries(door_services, "auth.failure") if "locked" in d["reason"]]
    assert sum(d["count"] for d in refusals) == 30


def test_parallel_guesses_cannot_overtake_the_limit(door_services: Services) -> None:
    """Each attempt is charged before Argon2 runs, so ten at once get five checks."""
    context = door_services.sign_in_context()
    start = threading.Barrier(10)

    def guess(n: int) -> str:
        start.wait()
        attempt = Attempt("sam", f"guess number {n}", "203.0.113.9", "wrong password for sam")
        try:
            check_sign_in(context, attempt)
        except Unauthenticated:
            return "wrong"
        except TooManyAttempts:
            return "refused"
        return "signed in"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(guess, range(10)))
    assert sorted(outcomes) == ["refused"] * 5 + ["wrong"] * 5
    checked = [d for _, _, d in entries(door_services, "auth.failure") if "wrong" in d["reason"]]
    assert len(checked) == 5


def test_unknown_names_are_locked_alike(door: TestClient, clock: FixedClock) -> None:
    assert [r.status_code for r in fail(door, "nobody", 5)] == [400] * 5
    assert sign_in(door, "nobody").status_code == 429
    other = elsewhere(door)  # this address has used most of its allowance
    assert [r.status_code for r in fail(other, "Not A Name!", 5)] == [400] * 5
    assert sign_in(other, "Not A Name!").status_code == 429


def test_one_address_is_locked_after_failures_across_names(
    door: TestClient, door_services: Services
) -> None:
    for n in range(CLIENT_LIMIT):
        assert fail(door, f"guess{n}", 1)[0].status_code == 400
    refused = sign_in(door, "ada")
    assert refused.status_code == 429
    assert "too many failed sign-in attempts from your network address" in refused.text
    assert sign_in(elsewhere(door), "ada").status_code == 303
    lockouts = entries(door_services, "auth.lockout")
    assert lockouts[-1][:2] == ("-", "client:testclient")
    assert lockouts[-1][2]["failures"] == CLIENT_LIMIT


def test_signing_in_rightly_does_not_clear_the_address(door: TestClient) -> None:
    """Someone with an account cannot sign in between guesses to keep guessing."""
    for n in range(CLIENT_LIMIT - 1):
        fail(door, f"guess{n}", 1)
        assert sign_in(door, "sam").status_code == 303
        door.cookies.clear()
    fail(door, "guessing-on", 1)
    assert sign_in(door, "sam").status_code == 429


def test_an_admin_releases_a_locked_name_on_the_web_audited(
    door: TestClient, door_services: Services
) -> None:
    fail(door, "sam", 5)
    admin = elsewhere(door)
    assert sign_in(admin, "ada").status_code == 303
    page = admin.get("/admin/users/sam")
    assert "Locked until 15 Jun 2026 09:31 UTC after 5 failed attempts" in page.text
    released = admin.post("/admin/users/sam/unlock", data={"csrf_token": csrf_of(page)})
    assert released.status_code == 303
    assert "Sign-in lock of sam released." in admin.get("/admin/users/sam").text
    assert sign_in(door, "sam").status_code == 303
    assert entries(door_services, "auth.unlock") == [
        ("ada", "user:sam", {"scope": "account", "name": "sam", "failures": 5})
    ]
    staff = elsewhere(door)
    assert sign_in(staff, "sam").status_code == 303
    own_token = csrf_of(staff.get("/account/password"))
    assert staff.post("/admin/users/sam/unlock", data={"csrf_token": own_token}).status_code == 403


def test_the_command_line_lists_and_releases_names_and_addresses(
    door: TestClient, door_services: Services, door_settings: Settings, clock: FixedClock
) -> None:
    # The command line runs on the real clock: fail at the real time.
    clock.now = datetime.now(UTC)
    fail(door, "sam", 5)
    for n in range(CLIENT_LIMIT - 5):
        fail(door, f"guess{n}", 1)
    env = {
        "RECORDS_DATA_DIR": str(door_settings.data_dir),
        "RECORDS_DATABASE_URL": door_settings.resolved_database_url,
        "RECORDS_AUTH__SIGNIN_CLIENT_FAILURES": str(CLIENT_LIMIT),
    }
    runner = CliRunner()
    listed = runner.invoke(main, ["users", "locks"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert [line[:3] for line in lines] == [
        ["account", "sam", "5"],
        ["client", "testclient", str(CLIENT_LIMIT)],
        *(["account", f"guess{n}", "1"] for n in range(CLIENT_LIMIT - 5)),
    ]
    assert lines[0][3] != "-" and lines[2][3] == "-"
    assert runner.invoke(main, ["users", "unlock"], env=env).exit_code == 2
    name = runner.invoke(main, ["users", "unlock", "sam"], env=env, catch_exceptions=False)
    assert name.output == "released account:sam (5 failed attempts forgotten)\n"
    assert sign_in(door, "sam").status_code == 429, "the address is still locked"
    address = ["users", "unlock", "--client", "testclient"]
    assert runner.invoke(main, address, env=env, catch_exceptions=False).exit_code == 0
    assert sign_in(door, "sam").status_code == 303
    assert [(a, s) for a, s, _ in entries(door_services, "auth.unlock")] == [
        ("cli", "user:sam"),
        ("cli", "client:testclient"),
    ]


def count_argon2(monkeypatch: Any) -> list[str]:
    """The hashes Argon2 checks passwords against from now on, in order.

    The real hasher still does the work; the list only watches its calls.
    """
    hasher = _hasher().hashers[0]
    real = hasher.verify
    calls: list[str] = []

    def watched(password: str | bytes, stored: str | bytes) -> bool:
        calls.append(stored if isinstance(stored, str) else stored.decode())
        return bool(real(password, stored))

    monkeypatch.setattr(hasher, "verify", watched)
    return calls


def test_unknown_and_known_names_cost_one_argon2_check_each(
    door: TestClient, door_services: Services, clock: FixedClock, monkeypatch: Any
) -> None:
    with session_scope(door_services.engine) as session:
        add_person(door_services, "dee", "staff")
        disable_user(session, username="dee", actor="test", clock=clock)
    calls = count_argon2(monkeypatch)
    assert sign_in(door, "sam", "not the password").status_code == 400
    assert sign_in(door, "nobody", "not the password").status_code == 400
    assert sign_in(door, "dee", PASSWORD).status_code == 400
    assert sign_in(door, "Not A Name!", "not the password").status_code == 400
    assert len(calls) == 4
    assert calls[0].startswith("$argon2id$") and calls[0] != DUMMY_HASH
    assert calls[1:] == [DUMMY_HASH] * 3


def test_the_dummy_hash_costs_what_a_real_one_does() -> None:
    """Same algorithm and parameters as a hash made now, so checking it takes as long."""
    parameters = hash_password("anything at all").split("$")[1:4]
    assert DUMMY_HASH.split("$")[1:4] == parameters


def change_password(client: TestClient, current: str) -> Response:
    page = client.get("/account/password")
    response: Response = client.post(
        "/account/password",
        data={
            "current": current,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_of(page),
        },
    )
    return response


def test_the_change_password_form_is_throttled_too(
    door: TestClient, door_services: Services, clock: FixedClock
) -> None:
    assert sign_in(door, "sam").status_code == 303
    assert [change_password(door, "wrong wrong").status_code for _ in range(5)] == [422] * 5
    refused = change_password(door, PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "too many failed attempts" in refused.text
    # The same lock as signing in: it guards the name, not the form.
    assert sign_in(elsewhere(door), "sam").status_code == 429
    assert [d["reason"] for _, _, d in entries(door_services, "auth.failure")] == [
        "wrong current password for sam"
    ] * 5 + ["sign-in refused while locked out"] * 2
    clock.advance(seconds=60)
    assert change_password(door, PASSWORD).status_code == 303
