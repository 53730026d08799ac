"""The transparency register page: items as at a day, recording a publication from the
form (audited), and the CSV and JSON exports with their "as at" day."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient

from records_service.auth.service import get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.finance.schemas import AwardIn
from records_service.finance.service import set_award
from records_service.runtime.services import Services
from records_service.transparency.schemas import PublicationIn
from records_service.transparency.service import record_publication
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


def _many_contracts(services: Services) -> dict[str, list[str]]:
    """As rob, 30 awarded contracts over the threshold, by the state each is in on
    15 June 2026: 26 overdue (awarded in January), 2 due (awarded in June) and 2
    published."""
    states: dict[str, list[str]] = {"overdue": [], "due": [], "published": []}
    rules = services.schedule.transparency
    with session_scope(services.engine) as session:
        rob = get_user(session, "rob")
        for number in range(1, 31):
            reference = f"REG-{number:02d}"
            state = "overdue" if number <= 26 else "due" if number <= 28 else "published"
            awarded = date(2026, 6, 1) if state == "due" else date(2026, 1, number % 28 + 1)
            data = ContractCreate(reference=reference, title=f"Service {number}", status="active")
            create_contract(session, data=data, actor=rob, clock=services.clock)
            award = AwardIn(awarded_on=awarded, awarded_value_pence=2_000_000)
            set_award(session, reference=reference, data=award, actor=rob, clock=services.clock)
            if state == "published":
                shown = PublicationIn(
                    item=f"contract:{reference}",
                    published_on=date(2026, 2, 1),
                    location="https://x",
                )
                record_publication(session, shown, rules=rules, actor=rob, clock=services.clock)
            states[state].append(f"contract:{reference}")
    return states


def _keys(page: str) -> list[str]:
    """The register items listed on a page, in order."""
    return re.findall(r'<br><span class="hint">((?:contract|grant):[^<]+)</span>', page)


def test_the_register_is_paged_and_counted_by_the_database_and_filters_by_state(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    states = _many_contracts(web_services)
    staff = browser_for("sam")
    first = staff.get("/transparency")
    assert first.status_code == 200
    assert "As at 15 Jun 2026: 26 overdue, 2 due, 2 published." in first.text
    assert ">Overdue (26)</option>" in first.text and ">Published (2)</option>" in first.text
    assert len(_keys(first.text)) == 25 and "Page 1 of 2" in first.text
    assert 'href="/transparency?as_at=2026-06-15&amp;page=2" rel="next"' in first.text
    second = staff.get("/transparency", params={"as_at": "2026-06-15", "page": "2"})
    assert len(_keys(second.text)) == 5 and "Page 2 of 2" in second.text
    every = sorted(key for keys in states.values() for key in keys)
    assert sorted(_keys(first.text) + _keys(second.text)) == every
    assert "As at 15 Jun 2026: 26 overdue, 2 due, 2 published." in second.text
    due = staff.get("/transparency", params={"state": "due"})
    assert _keys(due.text) == states["due"] and "Page 1 of" not in due.text
    assert "Overdue" not in due.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "As at 15 Jun 2026: 26 overdue, 2 due, 2 published." in due.text  # every state
    overdue = staff.get("/transparency", params={"state": "overdue"})
    assert _keys(overdue.text) == states["overdue"][:25]  # awarded a day apart, in order
    assert 'href="/transparency?as_at=2026-06-15&amp;state=overdue&amp;page=2"' in overdue.text
    rest = staff.get("/transparency", params={"state": "overdue", "page": "2"})
    assert _keys(rest.text) == states["overdue"][25:]
    # The filter's "Any" sends a blank state: every state.
    boxes = {"as_at_day": "15", "as_at_month": "6", "as_at_year": "2026"}
    every_state = staff.get("/transparency", params=boxes | {"state": "", "page": "2"})
    assert every_state.status_code == 200
    assert _keys(every_state.text) == _keys(second.text)
    # A state that is not one is refused beside the filter, and every state is shown.
    unknown = staff.get("/transparency", params={"state": "lost", "page": "2"})
    assert unknown.status_code == 422
    assert '<a href="#state">Choose a state from the list, or Any</a>' in unknown.text
    assert _keys(unknown.text) == _keys(second.text)


def test_an_as_at_box_that_is_not_a_number_is_shown_on_its_date_group(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    # Typed like every other date box: what is not a number is the form's own error,
    # beside the boxes, and not a refusal of the whole request.
    staff = browser_for("sam")
    boxes = {"as_at_day": "1\x07", "as_at_month": "4", "as_at_year": "2024"}
    shown = staff.get("/transparency", params=boxes)
    assert shown.status_code == 422
    group = shown.text.split('id="as_at-error"', 1)[1].split("</p>", 1)[0]
    assert "As at must be a real date, in numbers" in group
