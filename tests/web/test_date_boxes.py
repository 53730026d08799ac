"""The forms that once used the browser's date picker (the Panel's report, the
transparency register, the money forms): each date is typed as GOV.UK's day, month and
year boxes, read end to end, and a bad one is shown on its own date group, with every
other error at once and what was typed kept."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.runtime.services import Services
from web.signin import csrf_of
from web.test_contracts import _contract_form


def _boxes(name: str, day: str, month: str, year: str) -> dict[str, str]:
    return {f"{name}_day": day, f"{name}_month": month, f"{name}_year": year}


def _group(page: str, name: str) -> str:
    """The HTML of date group ``name``, from its fieldset to the end of its boxes."""
    start = page.index(f'<fieldset class="date-group" id="{name}"')
    return page[start : page.index("</fieldset>", start)]


def _marked(group: str) -> list[str]:
    """The boxes of a date group marked as the ones to correct."""
    return re.findall(r'id="[\w-]+_(day|month|year)"[^>]*aria-invalid="true"', group)


def test_the_panels_report_period_in_day_month_year_boxes(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob = browser_for("rob")
    page = rob.get("/reports/panel")
    assert 'type="date"' not in page.text and 'id="from_day"' in page.text
    form = {"csrf_token": csrf_of(page), "format": "html"}
    refused = rob.post(
        "/reports/panel", data=form | _boxes("from", "31", "2", "2025") | _boxes("to", "", "", "")
    )
    assert refused.status_code == 422
    group = _group(refused.text, "from")
    assert 'id="from-error"' in group and "From must be a real date" in group
    assert _marked(group) == ["day"] and 'value="31"' in group and 'value="2025"' in group
    assert "Enter the period&#39;s last day" in _group(refused.text, "to")
    assert 'href="#from"' in refused.text and 'href="#to"' in refused.text  # both at once
    period = _boxes("from", "1", "4", "2025") | _boxes("to", "31", "3", "2026")
    made = rob.post("/reports/panel", data=form | period)
    assert made.status_code == 303, made.text
    shown = rob.get(made.headers["location"]).text
    assert "Panel&#39;s report, 2025-04-01 to 2026-03-31" in shown


def test_the_transparency_register_as_at_and_published_on_boxes(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    today = staff.get("/transparency")
    assert 'type="date"' not in today.text
    assert 'id="as_at_day"' in today.text and 'value="2026"' in _group(today.text, "as_at")
    shown = staff.get("/transparency", params=_boxes("as_at", "10", "4", "2024"))
    assert shown.status_code == 200 and "As at 10 Apr 2024:" in shown.text
    assert "as_at=2024-04-10&amp;format=csv" in shown.text
    bad = staff.get("/transparency", params=_boxes("as_at", "10", "13", "2024"))
    assert bad.status_code == 422 and "As at must be a real date" in _group(bad.text, "as_at")
    assert _marked(_group(bad.text, "as_at")) == ["month"] and 'value="13"' in bad.text
    form = {"csrf_token": csrf_of(today), "item": "contract:NOPE", "location": ""}
    refused = staff.post(
        "/transparency/publications", data=form | _boxes("published_on", "20", "", "2024")
    )
    assert refused.status_code == 422
    group = _group(refused.text, "published_on")
    assert "Published on must include a month" in group and _marked(group) == ["month"]
    assert 'value="20"' in group and 'value="2024"' in group
    summary = refused.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#published_on"' in summary and 'href="#location"' in summary  # all at once
    assert 'value="contract:NOPE"' in refused.text


def test_a_money_form_with_a_wrong_day_shows_every_error_on_its_own_field(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    opened = staff.post("/contracts/new", data=_contract_form(staff, "/contracts/new"))
    assert opened.status_code == 303
    page = staff.get("/contracts/OPCC-2024-007")
    assert 'type="date"' not in page.text and 'id="payment-paid_on_day"' in page.text
    url = "/contracts/OPCC-2024-007/money/payment"
    form = {"csrf_token": csrf_of(page), "payment_reference": "", "amount": "100"}
    refused = staff.post(url, data=form | _boxes("paid_on", "30", "2", "2024"))
    assert refused.status_code == 422
    group = _group(refused.text, "payment-paid_on")
    assert 'id="payment-paid_on-error"' in group and "Paid on must be a real date" in group
    assert _marked(group) == ["day"] and 'name="paid_on_day"' in group and 'value="30"' in group
    summary = refused.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#payment-paid_on"' in summary and 'href="#payment-payment_reference"' in summary
    assert "<details open><summary>Payment made</summary>" in refused.text
    assert 'id="payment-amount" name="amount" type="text" value="100"' in refused.text
    assert 'id="period_start-error"' not in refused.text  # the gap form is untouched
    spend = {"csrf_token": csrf_of(page), "spent": "12,000"}
    backwards = _boxes("period_start", "1", "7", "2024") | _boxes("period_end", "30", "6", "2024")
    wrong = staff.post("/contracts/OPCC-2024-007/money/spend", data=spend | backwards)
    assert wrong.status_code == 422
    assert "Period to must be the same as or after Period from" in _group(
        wrong.text, "spend-period_end"
    )
    period = _boxes("period_start", "1", "4", "2024") | _boxes("period_end", "30", "6", "2024")
    done = staff.post("/contracts/OPCC-2024-007/money/spend", data=spend | period)
    assert done.status_code == 303
    shown = staff.get("/contracts/OPCC-2024-007").text
    assert "Reported spend recorded." in shown and "1 Apr 2024 to 30 Jun 2024" in shown
