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
