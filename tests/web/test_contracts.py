"""Contract pages: opening and changing a contract, the checklist by stage and the timeline."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.runtime.services import Services
from web.signin import csrf_of
from web.test_upload_and_records import NEEDS, SPEC, upload


def _contract_form(client: TestClient, action: str, **fields: str) -> dict[str, str]:
    form = {
        "reference": "OPCC-2024-007",
        "title": "Youth diversion service",
        "provider": "Fresh Start CIC",
        "funding_stream": "",
        "awarded_value": "£25,000.00",
        "start_date": "2024-04-01",
        "end_date": "2027-03-31",
        "closed_on": "",
        "status": "active",
        "is_deed": "no",
        "owner": "",
        "csrf_token": csrf_of(client.get(action)),
    }
    form.update(fields)
    return form


def test_open_contract_with_errors_then_success(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    bad = _contract_form(
        staff,
        "/contracts/new",
        reference="x",
        title="",
        awarded_value="lots",
        end_date="2020-01-01",
    )
    refused = staff.post("/contracts/new", data=bad)
    assert refused.status_code == 422
    # Every problem at once, each beside its own field and listed in the summary.
    for field in ("reference", "title", "awarded_value", "end_date"):
        assert f'id="{field}-error"' in refused.text, field
        assert f'<li><a href="#{field}">' in refused.text, field
    good = _contract_form(staff, "/contracts/new")
    created = staff.post("/contracts/new", data=good)
    assert created.status_code == 303
    assert created.headers["location"] == "/contracts/OPCC-2024-007"
    page = staff.get("/contracts/OPCC-2024-007").text
    assert "£25,000.00" in page and "Fresh Start CIC" in page
    duplicate = staff.post("/contracts/new", data=_contract_form(staff, "/contracts/new"))
    assert duplicate.status_code == 422 and "already exists" in duplicate.text


def test_change_contract_details(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    staff.post("/contracts/new", data=_contract_form(staff, "/contracts/new"))
    form = _contract_form(
        staff, "/contracts/OPCC-2024-007/edit", status="closed", closed_on="2026-01-31"
    )
    assert staff.post("/contracts/OPCC-2024-007/edit", data=form).status_code == 303
    page = staff.get("/contracts/OPCC-2024-007").text
    assert "Contract details updated." in page
    assert "Closed" in page and "31 Jan 2026" in page


def test_checklist_by_stage_and_timeline(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    staff.post("/contracts/new", data=_contract_form(staff, "/contracts/new"))
    upload(staff, [("needs.txt", NEEDS)], contract="OPCC-2024-007", record_date="2024-02-01")
    upload(
        staff,
        [("spec.txt", SPEC)],
        contract="OPCC-2024-007",
        record_type="specification",
        record_date="2024-02-10",
    )
    page = staff.get("/contracts/OPCC-2024-007").text
    checklist = page[page.index("Completeness checklist") : page.index("Timeline")]
    for stage in ("Need", "Design", "Procurement", "Agreement", "Delivery", "Closure"):
        assert f"<h3>{stage}</h3>" in checklist
    # State is given in words as well as colour.
    on_file = re.findall(r'class="check check-on-file".*?</li>', checklist, re.S)
    missing = re.findall(r'class="check check-missing".*?</li>', checklist, re.S)
    assert any("Needs assessment on file" in item for item in on_file)
    assert any("Specification on file" in item for item in on_file)
    assert any("Award decision record on file" in item and "Missing" in item for item in missing)
    assert any("monitoring return" in item and "overdue" in item for item in missing)
    assert "items missing from this file" in checklist
    timeline = page[page.index('id="timeline-heading"') :]
    order = [timeline.index(text) for text in ("Needs", "Spec", "Contract starts")]
    assert order == sorted(order)
    assert "Version 1: needs.txt" in timeline and "by sam" in timeline


def test_contract_form_refuses_amounts_and_dates_out_of_range(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    for field, value in (
        ("awarded_value", "1e308"),
        ("awarded_value", "NaN"),
        ("awarded_value", "Infinity"),
        ("awarded_value", "9" * 30),
        ("end_date", "9999-12-31"),
        ("title", "Youth \u202eecivres"),
        ("provider", "Fresh\x00Start"),
    ):
        form = _contract_form(staff, "/contracts/new", **{field: value})
        refused = staff.post("/contracts/new", data=form)
        assert refused.status_code == 422, (field, value, refused.text[:300])
        assert f'id="{field}-error"' in refused.text, (field, value)
    assert staff.get("/contracts/OPCC-2024-007").status_code == 404
