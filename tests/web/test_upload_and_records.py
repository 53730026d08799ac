"""Uploading several files, the record page, downloads, edits and new versions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import select

from records_service.audit.models import AuditEntry
from records_service.auth.service import get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.records.models import Record
from records_service.runtime.services import Services
from records_service.web.pages._forms import DATE_PARTS
from web.signin import csrf_of, upload_action

NEEDS = b"Needs assessment: demand for the domestic abuse helpline rose sharply.\n"
SPEC = b"Service specification for the helpline, open 24 hours.\n"


def open_contract(services: Services, reference: str = "OPCC-2023-014", **fields: object) -> None:
    """Create a contract through the contracts service."""
    values: dict[str, object] = {
        "reference": reference,
        "title": "Domestic abuse helpline",
        "status": "active",
        "start_date": "2023-04-01",
        "end_date": "2026-03-31",
        "awarded_value_pence": 4_500_000,
    }
    values.update(fields)
    with session_scope(services.engine) as session:
        actor = get_user(session, "ada")
        create_contract(
            session, data=ContractCreate.model_validate(values), actor=actor, clock=services.clock
        )


def upload(client: TestClient, files: list[tuple[str, bytes]], **fields: str) -> tuple[int, str]:
    """Post the upload form with ``files``; returns status and page."""
    form = {
        "contract": "OPCC-2023-014",
        "record_type": "needs_assessment",
        "record_date": "2023-01-20",
        "tags": "victims, Helpline",
        "classification": "OFFICIAL",
    }
    form.update(fields)
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    response = client.post(upload_action(client.get("/upload")), data=form, files=parts)
    return response.status_code, response.text


def record_ids(page: str) -> list[str]:
    """Record ids linked from a page, in order, without repeats."""
    return list(dict.fromkeys(re.findall(r'href="/records/([0-9a-f]{32})"', page)))


def test_upload_several_files_each_gets_its_outcome(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    too_big = b"x" * (web_services.settings.max_upload_bytes + 1)
    status, page = upload(
        staff,
        [("needs-assessment_2023.txt", NEEDS), ("huge.bin", too_big), ("spec.txt", SPEC)],
        titles="",
    )
    assert status == 200, re.findall(
        r"<h1>.*?</h1>|<p class=\"lead\">.*?</p>|error-message.*?</p>", page
    )
    assert "2 of 3 files captured" in page
    assert 'role="alert"' in page
    assert "Needs assessment 2023" in page  # title defaulted from the file name
    assert re.search(r"huge\.bin.*Not captured: .*(large|limit)", page, re.S)
    ids = record_ids(page)
    assert len(ids) == 2
    with session_scope(web_services.engine) as session:
        titles = {r.title for r in session.exec(select(Record))}
    assert titles == {"Needs assessment 2023", "Spec"}


def test_per_file_titles_are_used(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    form = {
        "contract": "OPCC-2023-014",
        "record_type": "specification",
        "record_date": "2023-02-01",
        "classification": "OFFICIAL",
        "titles": ["First title", "Second title"],
    }
    files = [("files", ("a.txt", NEEDS, "text/plain")), ("files", ("b.txt", SPEC, "text/plain"))]
    page = staff.post(upload_action(staff.get("/upload")), data=form, files=files).text
    assert "2 of 2 files captured" in page
    assert "First title" in page and "Second title" in page


def test_shared_field_errors_are_shown_next_to_their_fields(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    status, page = upload(
        staff,
        [("a.txt", NEEDS)],
        contract="NO-SUCH-CONTRACT",
        record_type="",
        record_date="2099-01-01",
    )
    assert status == 422
    assert "There is a problem" in page and 'role="alert"' in page
    for field in ("contract", "record_type", "record_date"):
        assert f'id="{field}-error"' in page, field
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', page), field
    assert "in the future" in page
    assert record_ids(staff.get("/records").text) == []


def test_no_file_chosen_is_an_error(browser_for: Callable[[str], TestClient]) -> None:
    staff = browser_for("sam")
    form = {"record_type": "minutes", "record_date": "2024-01-01", "classification": "OFFICIAL"}
    action = upload_action(staff.get("/upload"))
    response = staff.post(action, data=form, files=[("files", ("", b"", "text/plain"))])
    assert response.status_code == 422
    assert 'id="files-error"' in response.text


def _read_entries(services: Services, record_id: str, action: str = "record.read") -> int:
    with session_scope(services.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == action, AuditEntry.subject == f"record:{record_id}"
            )
        )
        return len(list(rows))


def test_record_page_previews_text_and_audits_reads(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    [record_id] = record_ids(upload(staff, [("needs.txt", NEEDS)])[1])
    page = staff.get(f"/records/{record_id}").text
    assert "demand for the domestic abuse helpline rose sharply" in page
    assert "<title>Needs \N{EN DASH} Records service</title>" in page
    assert "Kept until" in page  # retention status
    assert _read_entries(web_services, record_id) == 1
    download = staff.get(f"/records/{record_id}/versions/1/download")
    assert download.content == NEEDS
    assert download.headers["content-disposition"].startswith('attachment; filename="needs.txt"')
    assert _read_entries(web_services, record_id) == 2
    inline = staff.get(f"/records/{record_id}/versions/1/view")
    assert inline.headers["content-disposition"].startswith("inline")
    assert "sandbox" in inline.headers["content-security-policy"]
    assert _read_entries(web_services, record_id) == 3
    history = staff.get(f"/records/{record_id}").text
    assert "History from the audit log" in history and "Content read or downloaded" in history


def test_html_is_never_served_inline(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    page = b"<html><body><script>alert(1)</script></body></html>"
    [record_id] = record_ids(
        upload(staff, [("evil.html", page)], contract="", record_type="correspondence")[1]
    )
    inline = staff.get(f"/records/{record_id}/versions/1/view")
    # Served as plain text the browser may not sniff, in a sandbox: markup never runs.
    assert inline.headers["content-type"] == "text/plain; charset=utf-8"
    assert inline.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in inline.headers["content-security-policy"]
    shown = staff.get(f"/records/{record_id}").text
    assert "<script>alert(1)</script>" not in shown


def test_sensitive_record_is_hidden_from_other_staff(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    sam, sue, rita = browser_for("sam"), browser_for("sue"), browser_for("rita")
    [record_id] = record_ids(
        upload(sam, [("secret.txt", NEEDS)], contract="", classification="OFFICIAL-SENSITIVE")[1]
    )
    assert sam.get(f"/records/{record_id}").status_code == 200
    assert sue.get(f"/records/{record_id}").status_code == 404
    assert sue.get(f"/records/{record_id}/versions/1/download").status_code == 404
    assert record_id not in sue.get("/").text and record_id not in sue.get("/records").text
    assert rita.get(f"/records/{record_id}").status_code == 200


def _edit_form(form_page: Response, **fields: str) -> dict[str, str]:
    """The edit form's fields for the record ``upload`` captures, with ``fields`` changed."""
    form = {
        "title": "Needs assessment 2022-23",
        "record_type": "needs_assessment",
        "contract": "OPCC-2023-014",
        "tags": "victims, helpline, demand",
        "record_date": "2023-01-20",
        "classification": "OFFICIAL",
        "originator": "",
        "reason": "",
        "csrf_token": csrf_of(form_page),
    }
    return form | fields


def test_edit_needs_a_reason_and_keeps_history(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    [record_id] = record_ids(upload(staff, [("needs.txt", NEEDS)])[1])
    form = _edit_form(staff.get(f"/records/{record_id}/edit"))
    refused = staff.post(f"/records/{record_id}/edit", data=form)
    assert refused.status_code == 422 and 'id="reason-error"' in refused.text
    form["reason"] = "Title should name the financial year"
    saved = staff.post(f"/records/{record_id}/edit", data=form)
    assert saved.status_code == 303
    page = staff.get(f"/records/{record_id}").text
    assert "Details updated." in page
    assert "Needs assessment 2022-23" in page
    assert "Title should name the financial year" in page
    assert "demand" in page


def test_an_edit_that_changes_nothing_says_so_and_keeps_no_history(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    [record_id] = record_ids(upload(staff, [("needs.txt", NEEDS)])[1])
    # The values the record was captured with, in another order and case.
    form = _edit_form(
        staff.get(f"/records/{record_id}/edit"),
        title="Needs",
        tags="Helpline, victims",
        reason="Checking the details",
    )
    saved = staff.post(f"/records/{record_id}/edit", data=form)
    assert saved.status_code == 303
    page = staff.get(f"/records/{record_id}").text
    assert "Nothing was changed." in page and "Details updated." not in page
    assert "Checking the details" not in page  # no history entry carries the reason
    assert _read_entries(web_services, record_id, "record.update") == 0


def test_new_version_keeps_the_old_one(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    [record_id] = record_ids(upload(staff, [("needs.txt", NEEDS)], contract="")[1])
    page = staff.get(f"/records/{record_id}/new-version")
    added = staff.post(
        upload_action(page),
        files={"file": ("needs-v2.txt", SPEC, "text/plain")},
    )
    assert added.status_code == 303
    record = staff.get(f"/records/{record_id}").text
    assert "Version 2 added." in record and "needs-v2.txt" in record
    assert staff.get(f"/records/{record_id}/versions/1/download").content == NEEDS
    assert staff.get(f"/records/{record_id}/versions/2/download").content == SPEC


def test_record_list_filters_and_dashboard(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    sam, sue = browser_for("sam"), browser_for("sue")
    upload(sam, [("needs.txt", NEEDS)])
    upload(sue, [("spec.txt", SPEC)], record_type="specification", tags="design")
    by_tag = sam.get("/records?tag=design").text
    assert "1 record" in by_tag and "Spec" in by_tag
    dashboard = sam.get("/").text
    recent, mine = dashboard.split("Your records")
    assert "Needs" in recent and "Spec" in recent
    assert "Needs" in mine and "Spec" not in mine


def _records_by_title(services: Services) -> dict[str, Record]:
    with session_scope(services.engine) as session:
        return {r.title: r for r in session.exec(select(Record))}


@pytest.fixture
def sam(browser_for: Callable[[str], TestClient], web_services: Services) -> TestClient:
    """Sam (staff) signed in, with contract OPCC-2023-014 open to upload to."""
    open_contract(web_services)
    return browser_for("sam")


def _text_files(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Text files to post as the upload's ``files``, one per name (each its own text)."""
    return [("files", (name, SPEC + name.encode(), "text/plain")) for name in names]


def _per_file(
    titles: list[str], types: list[str], *dates: tuple[str, str, str]
) -> dict[str, list[str]]:
    """Each file's own boxes as the page's script adds them: title, record type, and
    the day, month and year of its date."""
    days, months, years = (list(part) for part in zip(*dates, strict=True))
    boxes = {"file_dates_day": days, "file_dates_month": months, "file_dates_year": years}
    return {"titles": titles, "file_types": types} | boxes


def test_each_file_has_its_own_type_date_and_title_with_the_batch_as_default(
    sam: TestClient, web_services: Services
) -> None:
    form = {
        "contract": "OPCC-2023-014",
        "record_type": "monitoring_return",
        "record_date": "",
        "classification": "OFFICIAL",
        **_per_file(
            ["Return Q1", "Return Q2", ""],
            ["", "", "minutes"],
            ("30", "6", "2023"),
            ("30", "09", "2023"),
            ("2", "10", "2023"),
        ),
    }
    files = _text_files("q1.txt", "q2.txt", "board_meeting.txt")
    response = sam.post(upload_action(sam.get("/upload")), data=form, files=files)
    assert "3 of 3 files captured" in response.text
    records = _records_by_title(web_services)
    got = {t: (r.record_type, r.record_date.isoformat()) for t, r in records.items()}
    assert got == {
        "Return Q1": ("monitoring_return", "2023-06-30"),
        "Return Q2": ("monitoring_return", "2023-09-30"),
        "Board meeting": ("minutes", "2023-10-02"),
    }


def test_a_refused_upload_names_every_wrong_field_of_every_file_and_captures_none(
    sam: TestClient, web_services: Services
) -> None:
    form = {
        "contract": "OPCC-2023-014",
        "record_type": "",
        "record_date": "2023-07-01",
        "classification": "OFFICIAL",
        **_per_file(
            ["", "", ""],
            ["minutes", "", "minutes"],
            ("30", "2", "2023"),
            ("", "", ""),
            ("", "3", "23"),
        ),
    }
    files = _text_files("a.txt", "b.txt", "c.txt")
    action = upload_action(sam.get("/upload"))
    page = sam.post(action, data=form, files=files)
    assert page.status_code == 422
    assert "Choose a record type for b.txt" in page.text
    assert "Record date for a.txt must be a real date" in page.text
    # The page's script asks for the same answer as a problem, to keep the chosen files.
    headers = {"Accept": "application/problem+json, text/html"}
    problem = sam.post(action, data=form, files=files, headers=headers)
    assert problem.status_code == 422
    assert problem.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: (e["message"], e.get("boxes")) for e in problem.json()["errors"]}
    assert errors == {
        "record_date-0": ("Record date for a.txt must be a real date", ["day"]),
        "record_type-1": ("Choose a record type for b.txt", None),
        "record_date-2": ("Record date for c.txt must include a day", ["day"]),
    }
    assert _records_by_title(web_services) == {}


def test_upload_check_answers_from_the_fields_and_file_names_alone(
    sam: TestClient, web_services: Services
) -> None:
    check = upload_action(sam.get("/upload")).replace("/upload?", "/upload/check?")
    batch = {"contract": "OPCC-2023-014", "record_type": "minutes", "classification": "OFFICIAL"}
    names = {"names": ["a.txt", "b.txt"]}
    good = batch | names | _per_file(["", ""], ["", ""], ("1", "1", "2023"), ("1", "2", "2023"))
    assert sam.post(check, data=good).status_code == 204
    blank = _per_file(["", ""], ["", ""], ("1", "1", "2023"), ("", "", ""))
    bad = batch | names | blank | {"contract": "NO-SUCH", "tags": ""}
    response = sam.post(check, data=bad)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["contract", "record_date-1"]
    partial = batch | names | blank | {"record_date_day": "5", "record_date_year": "2023"}
    refused = sam.post(check, data=partial).json()["errors"]
    assert refused == [
        {"field": "record_date", "message": "Record date must include a month", "boxes": ["month"]}
    ]
    nothing = sam.post(check, data={"record_type": "minutes", "record_date": "2023-01-01"})
    assert [e["field"] for e in nothing.json()["errors"]] == ["files"]
    # A wrong batch date that three files take is one error, on the batch's date.
    three = {"names": ["a.txt", "b.txt", "c.txt"]} | _per_file(
        ["", "", ""], ["", "", ""], ("", "", ""), ("", "", ""), ("", "", "")
    )
    later = batch | three | {"record_date_day": "1", "record_date_month": "1"}
    taken = sam.post(check, data=later | {"record_date_year": "2099"}).json()["errors"]
    assert [(e["field"], e["boxes"]) for e in taken] == [("record_date", list(DATE_PARTS))]
    assert _records_by_title(web_services) == {}


def test_the_upload_form_has_no_default_date_and_enter_cannot_submit_it(
    browser_for: Callable[[str], TestClient],
) -> None:
    page = browser_for("sam").get("/upload").text
    assert re.search(r'<fieldset class="date-group" id="record_date"', page)
    for part in ("day", "month", "year"):
        assert re.search(rf'id="record_date_{part}" name="record_date_{part}"[^>]*value=""', page)
    # The form's first submit button (the one Enter presses) is a disabled one.
    first_button = re.search(r"<form[^>]*data-upload-form>.*?<button([^>]*)>", page, re.S)
    assert first_button and "disabled" in first_button.group(1)
