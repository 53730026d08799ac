"""Pages that only show things answer while another connection holds SQLite's write
lock (as a long capture would), instead of queueing behind it; a form that writes
still waits for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from factories import capture, create_contract, make_user
from records_service.runtime.services import Services
from support.locks import write_lock_held
from web.signin import csrf_of

REF = "OPCC-2023-014"
PAGES = {
    "sam": ["/", "/records", "/records/{id}/edit", "/records/{id}/new-version", "/upload"],
    "rob": [
        "/contracts",
        f"/contracts/{REF}",
        f"/contracts/{REF}/edit",
        "/audit",
        "/retention",
        "/retention/findings.csv",
        "/retention/dispositions",
        "/retention/holds",
    ],
    "ada": ["/admin/users", "/admin/users/sam"],
}


def _one_record(client: TestClient, services: Services) -> str:
    headers = make_user(services, "api-staff", "staff")
    assert create_contract(client, headers).status_code == 201
    response = capture(client, headers, contract=REF)
    assert response.status_code == 201, response.text
    record_id: str = response.json()["id"]
    return record_id


def test_pages_answer_while_a_writer_holds_the_lock(
    browser_for: Callable[[str], TestClient], web_services: Services, web_app_client: TestClient
) -> None:
    record_id = _one_record(web_app_client, web_services)
    people = {name: browser_for(name) for name in PAGES}  # signing in writes: before the lock
    with write_lock_held(web_services.engine):
        for name, paths in PAGES.items():
            for path in paths:
                started = time.monotonic()
                response = people[name].get(path.format(id=record_id))
                assert response.status_code == 200, (path, response.text[:300])
                assert time.monotonic() - started < 2.0, path


def test_a_form_that_writes_waits_for_the_lock(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob = browser_for("rob")
    form = rob.get("/contracts/new")
    data = {
        "reference": "OPCC-2024-001",
        "title": "Helpline",
        "status": "active",
        "provider": "Safe Lives",
        "csrf_token": csrf_of(form),
    }
    result: dict[str, int] = {}
    with write_lock_held(web_services.engine):
        writer = threading.Thread(
            target=lambda: result.update(status=rob.post("/contracts/new", data=data).status_code)
        )
        writer.start()
        writer.join(1.0)
        assert writer.is_alive(), "the new contract should wait for the write lock"
    writer.join(30)
    assert result == {"status": 303}
    assert rob.get("/contracts/OPCC-2024-001").status_code == 200
