"""Against a real ``records-service serve`` process, where the response really goes out
over a socket: what a write answered is what the very next request sees, every time.

Before writes committed ahead of their responses, a token revoked a moment earlier
still worked in about half of these tries, and a GET straight after a PATCH could show
the old title. No sleeps: each check is the request right after the write's answer.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from records_service.auth.service import add_user, issue_token
from records_service.clock import system_clock
from records_service.db import make_engine, session_scope
from support.server import Serve

TRIES = 15
REQUEST_SECONDS = 60.0


@pytest.fixture
def served(tmp_path: Path, db_url: str, serve: Serve) -> tuple[str, dict[str, str]]:
    """A server on the parametrised database, and bearer headers for an admin and staff."""
    engine = make_engine(db_url)
    headers = {}
    with session_scope(engine) as session:
        for name, role in (("ada", "admin"), ("sam", "staff")):
            add_user(session, username=name, roles=[role], clock=system_clock)
            headers[name] = f"Bearer {issue_token(session, username=name, clock=system_clock)}"
    engine.dispose()
    server = serve(tmp_path / "data", env={"RECORDS_DATABASE_URL": db_url})
    return server.base_url, headers


def _client(base: str, authorization: str) -> httpx.Client:
    return httpx.Client(
        base_url=base, headers={"Authorization": authorization}, timeout=REQUEST_SECONDS
    )


def test_a_revoked_token_is_refused_by_the_very_next_request(
    served: tuple[str, dict[str, str]],
) -> None:
    base, headers = served
    with _client(base, headers["ada"]) as admin:
        for n in range(TRIES):
            issued = admin.post("/api/users/sam/tokens", json={"label": f"try {n}"})
            assert issued.status_code == 201, issued.text
            with _client(base, f"Bearer {issued.json()['token']}") as holder:
                assert holder.get("/api/contracts").status_code == 200
                assert admin.post(f"/api/tokens/{issued.json()['id']}/revoke").status_code == 200
                assert holder.get("/api/contracts").status_code == 401, f"try {n}"


def test_a_disabled_user_is_refused_by_the_very_next_request(
    served: tuple[str, dict[str, str]],
) -> None:
    base, headers = served
    with _client(base, headers["ada"]) as admin:
        for n in range(TRIES):
            created = admin.post("/api/users", json={"username": f"temp{n}", "roles": ["staff"]})
            assert created.status_code == 201, created.text
            with _client(base, f"Bearer {created.json()['token']['token']}") as temp:
                assert temp.get("/api/contracts").status_code == 200
                assert admin.post(f"/api/users/temp{n}/disable").status_code == 200
                assert temp.get("/api/contracts").status_code == 401, f"try {n}"


def test_a_patch_is_seen_by_the_very_next_get(served: tuple[str, dict[str, str]]) -> None:
    base, headers = served
    with _client(base, headers["sam"]) as staff:
        contract = {"reference": "OPCC-2023-014", "title": "Helpline", "status": "active"}
        assert staff.post("/api/contracts", json=contract).status_code == 201
        for n in range(TRIES):
            title = f"Helpline, revision {n}"
            changed = staff.patch("/api/contracts/OPCC-2023-014", json={"title": title})
            assert changed.status_code == 200, changed.text
            assert staff.get("/api/contracts/OPCC-2023-014").json()["title"] == title
