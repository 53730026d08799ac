"""OFFICIAL-SENSITIVE records do not exist for staff who may not see them, on every page.

The pages here run on SQLite and PostgreSQL (fixture ``db_url``): the visibility rule
is SQL, so both databases must apply it. The strongest check is that a page a staff
member sees is byte for byte the same before and after someone else captures a
record that is hidden from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract
from records_service.auth.service import get_user
from records_service.db import session_scope
from records_service.runtime.services import Services
from web.signin import csrf_of, password_hash, sign_in

SECRET_TAG = "witness-protection"


@pytest.fixture
def browser(client: TestClient, services: Services, actors: Actors) -> Callable[[str], TestClient]:
    """A signed-in browser for one of the ``actors`` users, on the parametrised database."""

    def signed_in(username: str) -> TestClient:
        with session_scope(services.engine) as session:
            user = get_user(session, username)
            user.password_hash = password_hash()
            session.add(user)
        browser = TestClient(client.app, follow_redirects=False)
        assert sign_in(browser, username).status_code == 303
        return browser

    return signed_in


def _capture_hidden(client: TestClient, actors: Actors) -> str:
    """Sam captures a sensitive needs assessment on the contract; returns its id."""
    response = capture(
        client,
        actors.staff,
        title="Safeguarding referral",
        tags=f"{SECRET_TAG},victims",
        classification="OFFICIAL-SENSITIVE",
        record_date="2023-02-20",
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


def test_tag_suggestions_come_only_from_visible_records(
    client: TestClient, actors: Actors, browser: Callable[[str], TestClient]
) -> None:
    create_contract(client, actors.staff)
    visible = capture(client, actors.staff2, tags="helpline", title="Open note")
    assert visible.status_code == 201, visible.text
    sue = browser("sue")
    upload_before = _without_csrf(sue.get("/upload").text)
    edit_path = f"/records/{visible.json()['id']}/edit"
    edit_before = _without_csrf(sue.get(edit_path).text)
    assert 'value="helpline"' in upload_before

    _capture_hidden(client, actors)

    assert _without_csrf(sue.get("/upload").text) == upload_before
    assert _without_csrf(sue.get(edit_path).text) == edit_before
    for who in ("sam", "rob"):  # the capturer and a records manager may see it
        assert f'<option value="{SECRET_TAG}">' in browser(who).get("/upload").text


def test_contract_checklist_does_not_reveal_a_hidden_record(
    client: TestClient, actors: Actors, browser: Callable[[str], TestClient]
) -> None:
    create_contract(client, actors.staff)
    sue = browser("sue")
    before = _without_csrf(sue.get("/contracts/OPCC-2023-014").text)
    assert "Needs assessment" in before
    # The counts on the contracts list too: the record fills an item only for those
    # who may see it.
    listed = {who: _without_csrf(browser(who).get("/contracts").text) for who in ("sue", "rob")}

    _capture_hidden(client, actors)

    after = _without_csrf(sue.get("/contracts/OPCC-2023-014").text)
    assert "cannot open" not in after and "20 Feb 2023" not in after
    assert after == before
    assert _without_csrf(sue.get("/contracts").text) == listed["sue"]
    assert _without_csrf(browser("rob").get("/contracts").text) != listed["rob"]
    for who in ("sam", "rob"):
        page = browser(who).get("/contracts/OPCC-2023-014").text
        checklist = page[page.index("Completeness checklist") : page.index('id="timeline-heading"')]
        assert "Safeguarding referral" in checklist and "20 Feb 2023" in checklist


def test_a_record_reclassified_on_the_edit_page_leaves_search_at_once(
    client: TestClient, actors: Actors, services: Services, browser: Callable[[str], TestClient]
) -> None:
    create_contract(client, actors.staff)
    captured = capture(client, actors.staff, content=b"Marigold refuge address\n")
    assert captured.status_code == 201, captured.text
    record_id = captured.json()["id"]
    services.run_background_once()
    sue = browser("sue")
    assert record_id in sue.get("/search", params={"q": "marigold"}).text

    sam = browser("sam")
    form = sam.get(f"/records/{record_id}/edit")
    fields = {
        "title": "Needs assessment 2023",
        "record_type": "needs_assessment",
        "contract": "OPCC-2023-014",
        "tags": "victims, helpline",
        "record_date": "2023-01-20",
        "classification": "OFFICIAL-SENSITIVE",
        "originator": "Commissioning team",
        "reason": "names a refuge",
        "csrf_token": csrf_of(form),
    }
    edited = sam.post(f"/records/{record_id}/edit", data=fields)
    assert edited.status_code == 303, edited.text

    page = sue.get("/search", params={"q": "marigold"}).text
    assert record_id not in page and "Marigold" not in page and "<mark>" not in page
    assert record_id in sam.get("/search", params={"q": "marigold"}).text
