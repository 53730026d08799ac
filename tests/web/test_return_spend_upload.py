"""A monitoring-return upload offers the spend and outcomes the return reports: given,
they are checked with the upload's other fields and recorded against the return."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.runtime.services import Services
from web.signin import csrf_of, upload_action
from web.test_upload_and_records import open_contract, record_ids, upload

RETURN = {"record_type": "monitoring_return", "record_date": "2023-07-10"}
SPEND = {
    **{"spend_period_start_day": "1", "spend_period_start_month": "4"},
    **{"spend_period_start_year": "2023", "spend_period_end_day": "30"},
    **{"spend_period_end_month": "6", "spend_period_end_year": "2023"},
    "spent": "8,250.50",
    "spend_outcomes": "people supported: 120\ncalls answered: 950",
}


def test_a_return_uploaded_with_its_spend(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    assert "For a monitoring return: the spend and outcomes it reports" in staff.get("/upload").text
    two = [("q1.txt", b"Q1 return\n"), ("q2.txt", b"Q2 return\n")]
    status, page = upload(staff, two, **RETURN, **SPEND)
    assert status == 422 and "Reported spend goes with one monitoring return" in page
    assert 'value="8,250.50"' in page  # what was typed is shown again
    assert "people supported: 120\ncalls answered: 950</textarea>" in page
    end = page.split('id="spend_period_end_day"', 1)[1].split(">", 1)[0]
    assert 'value="30"' in end
    check = staff.post(
        upload_action(staff.get("/upload")).replace("/upload?", "/upload/check?"),
        data={
            "names": ["q1.txt"],
            "contract": "OPCC-2023-014",
            **RETURN,
            **SPEND,
            "spent": "lots",
            "csrf_token": csrf_of(staff.get("/upload")),
        },
        headers={"Accept": "application/problem+json"},
    )
    assert check.status_code == 422
    assert check.json()["errors"] == [
        {"field": "spent", "message": "Spent: enter an amount in pounds, for example 12,500.00"}
    ]
    status, page = upload(staff, two[:1], **RETURN, **SPEND)
    assert status == 200, page
    [return_id] = record_ids(page)
    spend = staff.get("/contracts/OPCC-2023-014").text
    assert "£8,250.50" in spend and "people supported: 120" in spend
    assert f'<a href="/records/{return_id}">Monitoring return</a>' in spend
    status, page = upload(staff, [("needs.txt", b"needs\n")])  # no spend fields: as before
    assert status == 200 and "Captured as" in page


def test_a_return_spend_period_with_a_wrong_day_is_shown_on_its_own_date(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    staff = browser_for("sam")
    assert 'type="date"' not in staff.get("/upload").text
    wrong = SPEND | {"spend_period_start_day": "31", "spend_period_end_year": "", "spent": "x"}
    status, page = upload(staff, [("q1.txt", b"Q1 return\n")], **RETURN, **wrong)
    assert status == 422
    start = page.split('id="spend_period_start"', 1)[1].split("</fieldset>", 1)[0]
    assert "Period from must be a real date" in start and 'value="31"' in start
    assert 'id="spend_period_start_day" name="spend_period_start_day" type="text"' in start
    assert 'aria-invalid="true"' in start.split('id="spend_period_start_month"')[0]
    end = page.split('id="spend_period_end"', 1)[1].split("</fieldset>", 1)[0]
    assert "Period to must include a year" in end and 'value="30"' in end
    summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    for field in ("spend_period_start", "spend_period_end", "spent"):
        assert f'href="#{field}"' in summary  # every error at once
    check = staff.post(
        upload_action(staff.get("/upload")).replace("/upload?", "/upload/check?"),
        data={
            "names": ["q1.txt"],
            "contract": "OPCC-2023-014",
            **RETURN,
            **SPEND,
            "spend_period_end_month": "3",  # before the period's first day
            "csrf_token": csrf_of(staff.get("/upload")),
        },
        headers={"Accept": "application/problem+json"},
    )
    message = "Period to must be the same as or after Period from"
    assert check.json()["errors"] == [{"field": "spend_period_end", "message": message}]
    assert "No spend reported." in staff.get("/contracts/OPCC-2023-014").text  # nothing recorded
