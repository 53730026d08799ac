"""The search page: results with safe highlighted snippets, facets, paging and errors."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import select

from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.runtime.services import Services
from web.signin import upload_action
from web.test_upload_and_records import open_contract, record_ids, upload

MINUTES = b"Panel minutes: the <b>refuge</b> contract was extended by twelve months.\n"
LETTER = b"Letter to the provider about the refuge referral pathway.\n"


def test_search_finds_text_inside_documents_with_safe_snippets(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    upload(staff, [("minutes.txt", MINUTES)], record_type="minutes")
    upload(staff, [("letter.txt", LETTER)], contract="", record_type="correspondence")
    web_services.run_background_once()  # extract text and index it
    page = staff.get("/search?q=refuge").text
    assert "2 results" in page
    assert "<mark>refuge</mark>" in page
    assert "<b>refuge</b>" not in page and "&lt;b&gt;" in page
    assert "Narrow the results" in page and "OPCC-2023-014" in page
    narrowed = staff.get("/search?q=refuge&contract=OPCC-2023-014").text
    assert "1 result" in narrowed and "Minutes" in narrowed
    # Each filter is a chip whose link is the search without it; the words stay.
    assert '<a class="chip" href="/search?q=refuge">Contract: OPCC-2023-014' in narrowed
    boxes = "date_from_day=1&date_from_month=1&date_from_year=2020"
    dated = staff.get(f"/search?q=refuge&record_type=minutes&{boxes}").text
    assert "1 result" in dated and ">Record type: Minutes<" in dated
    assert (
        '<a class="chip" href="/search?q=refuge&amp;record_type=minutes">Dated from: 1 January 2020'
        in dated
    )
    phrase = staff.get('/search?q="twelve months"').text
    assert "1 result" in phrase
    with session_scope(web_services.engine) as session:
        searches = session.exec(select(AuditEntry).where(AuditEntry.action == "search.query"))
        assert len(list(searches)) == 4


def test_all_versions_toggle_and_bad_query(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    [record_id] = record_ids(
        upload(
            staff, [("old.txt", b"Draft about the helpline.\n")], contract="", record_type="minutes"
        )[1]
    )
    page = staff.get(f"/records/{record_id}/new-version")
    staff.post(
        upload_action(page),
        files={"file": ("new.txt", b"Final text about the refuge.\n", "text/plain")},
    )
    web_services.run_background_once()
    assert "0 results" in staff.get("/search?q=draft").text
    every = staff.get("/search?q=draft&all_versions=true").text
    assert "1 result" in every and "version 1, not current" in every
    assert f"/records/{record_id}?version=1" in every
    bad = staff.get('/search?q="unclosed')
    assert bad.status_code == 422
    assert 'id="q-error"' in bad.text and 'aria-invalid="true"' in bad.text


def test_empty_search_shows_help_without_searching(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    page = browser_for("sam").get("/search").text
    assert "How to write a search" in page and "results" not in page
