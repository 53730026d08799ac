"""The transparency register page: items as at a day, recording a publication from the
form (audited), and the CSV and JSON exports with their "as at" day."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.runtime.services import Services
from web.signin import csrf_of
from web.test_contracts import _contract_form


def test_register_page_publish_and_export(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    opened = staff.post("/contracts/new", data=_contract_form(staff, "/contracts/new"))
    assert opened.status_code == 303
    assert "contract:OPCC-2024-007" not in staff.get("/transparency").text  # no award yet
    award = {"csrf_token": csrf_of(staff.get("/transparency")), "awarded_on": "2024-04-01"}
    assert staff.post("/contracts/OPCC-2024-007/money/award", data=award).status_code == 303
    page = staff.get("/transparency").text
    assert "contract:OPCC-2024-007" in page and "Overdue 775 days" in page  # due by 2024-05-01
    assert '<a href="/transparency" aria-current="page">Register</a>' in page
    form = {
        "csrf_token": csrf_of(staff.get("/transparency")),
        "item": "contract:OPCC-2024-007",
        "published_on": "2099-01-01",
        "location": "https://pcc.example/contracts/7",
    }
    refused = staff.post("/transparency/publications", data=form)
    assert refused.status_code == 422
    error = refused.text.split('id="published_on-error"', 1)[1].split("</p>", 1)[0]
    assert "Published on: 2099-01-01 is in the future" in error
    assert 'id="published_on_year"' in refused.text and 'value="2099"' in refused.text
    assert "Publication of" not in staff.get("/transparency").text
    form |= {"published_on_day": "20", "published_on_month": "4", "published_on_year": "2024"}
    del form["published_on"]
    assert staff.post("/transparency/publications", data=form).status_code == 303
    page = staff.get("/transparency").text
    assert "Publication of contract:OPCC-2024-007 recorded." in page and "No copy held" in page
    export = staff.get("/transparency/export", params={"as_at": "2024-04-30"})
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["as_at"], r["item"], r["state"], r["published_on"]) for r in rows] == [
        ("2024-04-30", "contract:OPCC-2024-007", "published", "2024-04-20")
    ]
    before = staff.get("/transparency/export", params={"as_at": "2024-04-10", "format": "json"})
    body = before.json()
    assert body["as_at"] == "2024-04-10" and body["items"][0]["state"] == "due"
    reviewer = browser_for("rita")
    assert "Record a publication" not in reviewer.get("/transparency").text
