"""The contract page's money section: numbers and an accessible SVG chart rendered by the
server, the findings beside them, and the forms that record each entry (audited)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from records_service.audit.models import AuditEntry
from records_service.retention.job import run_retention
from records_service.runtime.services import Services
from web.signin import csrf_of
from web.test_contracts import _contract_form


def _post(client: TestClient, entry: str, **fields: str) -> str:
    page = client.get("/contracts/OPCC-2024-007")
    form = {"csrf_token": csrf_of(page), **fields}
    response = client.post(f"/contracts/OPCC-2024-007/money/{entry}", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/contracts/OPCC-2024-007#money"
    text: str = client.get("/contracts/OPCC-2024-007").text
    return text


def _day(name: str, day: int, month: int, year: int) -> dict[str, str]:
    """A date as the form's day, month and year boxes."""
    return {f"{name}_day": str(day), f"{name}_month": str(month), f"{name}_year": str(year)}


def test_money_forms_numbers_chart_and_findings(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    assert (
        staff.post("/contracts/new", data=_contract_form(staff, "/contracts/new")).status_code
        == 303
    )
    page = _post(
        staff,
        "payment",
        payment_reference="PAY-9",
        amount="£30,000.00",
        **_day("paid_on", 1, 5, 2024),
    )
    assert "Payment recorded." in page
    page = _post(
        staff,
        "spend",
        **_day("period_start", 1, 4, 2024),
        **_day("period_end", 30, 6, 2024),
        spent="12,000",
        outcomes="people supported: 42\nreferrals = 7",
    )
    assert "Reported spend recorded." in page and "people supported: 42; referrals: 7" in page
    form = {"csrf_token": csrf_of(staff.get("/contracts/OPCC-2024-007")), "amount": "lots"}
    refused = staff.post(
        "/contracts/OPCC-2024-007/money/instalment", data=form | _day("due_on", 1, 7, 2024)
    )
    assert refused.status_code == 422
    error = refused.text.split('id="instalment-amount-error"', 1)[1].split("</p>", 1)[0]
    assert "Amount: enter an amount in pounds" in error
    assert 'id="instalment-amount" name="amount" type="text" value="lots"' in refused.text
    assert "Instalment of" not in staff.get("/contracts/OPCC-2024-007").text
    numbers = dict(
        re.findall(
            r'<th scope="row">([^<(]+?)(?: \([^)]*\))?</th><td class="num">(?:<strong>)?([^<]+)<',
            page,
        )
    )
    assert (
        numbers["Awarded"],
        numbers["Current value"],
        numbers["Paid"],
        numbers["Reported spent"],
    ) == (
        "£25,000.00",
        "£25,000.00",
        "£30,000.00",
        "£12,000.00",
    )
    chart = page.split('<svg class="money-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in chart and 'aria-labelledby="money-chart-title money-chart-desc"' in chart
    title = "Award, variations, paid and reported spent for OPCC-2024-007"
    assert f'<title id="money-chart-title">{title}</title>' in chart
    assert "awarded £25,000.00; variations £0.00; current value £25,000.00" in chart
    assert "paid £30,000.00; reported spent £12,000.00" in chart
    assert chart.count("<rect") == 7 and "<script" not in page.split("</svg>")[0][-2000:]
    with Session(web_services.engine) as session:
        actions = [
            e.action for e in session.exec(select(AuditEntry)) if e.action.startswith("finance.")
        ]
    assert actions == ["finance.payment", "finance.spend"]
    run_retention(
        engine=web_services.engine,
        store=web_services.store,
        schedule=web_services.schedule,
        settings=web_services.settings,
        actor="system",
        clock=web_services.clock,
    )
    seen_by_auditor = browser_for("aud").get("/contracts/OPCC-2024-007").text
    findings = seen_by_auditor.split('id="money-findings-heading"', 1)[1].split("</ul>", 1)[0]
    assert "OPCC-2024-007: paid £30,000.00 against a value of £25,000.00" in findings
    assert "payment PAY-9 of £30,000.00 on 2024-05-01 has no invoice on file" in findings
    assert 'id="money-findings-heading"' not in staff.get("/contracts/OPCC-2024-007").text
    assert "Record money" not in seen_by_auditor
