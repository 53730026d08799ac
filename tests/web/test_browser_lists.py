"""The records list in a real headless Chromium: day/month/year date boxes with an error
on the box to correct, filters as chips that remove themselves, and changes to ticked
records. One seeded server and one browser serve the module."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from records_service.audit.writer import prepare_audit
from records_service.auth.service import add_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.records.capture import capture_record
from records_service.records.schemas import RecordMetadata
from records_service.runtime.launch import ServedProcess
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.server import serving_for_a_test
from web.axe import check_page
from web.signin import password_hash
from web.test_browser import _new_page, _shot, _sign_in

pytestmark = pytest.mark.browser

CONTRACT = "OPCC-2023-014"
RECORDS = (
    ("Needs assessment", "needs_assessment", "2023-01-20"),
    ("Service specification", "specification", "2023-03-01"),
    ("Board minutes", "minutes", "2024-05-01"),
)


def _seed(settings: Settings) -> None:
    """A records manager, a contract and three records on it."""
    services = Services.start(settings)
    try:
        list(prepare_audit(settings, services.store))
        with session_scope(services.engine) as session:
            rob = add_user(session, username="rob", roles=["records_manager"], clock=services.clock)
            rob.password_hash = password_hash()
            data = ContractCreate(
                reference=CONTRACT, title="Domestic abuse helpline", status="active"
            )
            create_contract(session, data=data, actor=rob, clock=services.clock)
        for title, kind, day in RECORDS:
            meta = RecordMetadata(title=title, record_type=kind, contract=CONTRACT, record_date=day)
            capture_record(
                services.capture_context(),
                meta=meta,
                source=io.BytesIO(title.encode()),
                filename=f"{title}.txt",
                actor=rob,
            )
    finally:
        services.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """The seeded service as its own process, shared by the module's tests."""
    data_dir = tmp_path_factory.mktemp("lists") / "data"
    _seed(Settings(data_dir=data_dir))
    starter = serving_for_a_test()
    serve = next(starter)
    try:
        yield serve(data_dir, "--log-level", "warning", "--processes", "1")
    finally:
        next(starter, None)


def test_dates_chips_and_changes_to_ticked_records(server: ServedProcess, browser: Browser) -> None:
    page = _new_page(browser)
    _sign_in(page, server.base_url, "rob")
    page.goto(f"{server.base_url}/records")
    check_page(page)
    dated_from = page.get_by_role("group", name="Dated from")
    dated_to = page.get_by_role("group", name="Dated to")
    dated_from.get_by_label("Day").fill("1")
    dated_from.get_by_label("Month").fill("2")
    dated_from.get_by_label("Year").fill("2023")
    dated_to.get_by_label("Day").fill("31")
    dated_to.get_by_label("Month").fill("2")
    dated_to.get_by_label("Year").fill("2024")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator(".error-summary")).to_contain_text("Dated to must be a real date")
    check_page(page, "date refused")
    expect(dated_to.get_by_label("Day")).to_have_attribute("aria-invalid", "true")
    expect(dated_to.get_by_label("Month")).not_to_have_attribute("aria-invalid", "true")
    dated_to.get_by_label("Day").fill("29")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Service specification")
    chips = page.get_by_role("region", name="Filters in force").locator("a.chip")
    expect(chips).to_have_count(2)
    _shot(page, "records-filtered")
    chips.filter(has_text="Dated to: 29 February 2024").click()
    expect(chips).to_have_count(1)
    expect(dated_to.get_by_label("Day")).to_have_value("")
    expect(rows).to_have_count(2)
    check_page(page, "one chip")
    chips.filter(has_text="Dated from: 1 February 2023").click()
    expect(rows).to_have_count(3)
    expect(chips).to_have_count(0)

    page.get_by_role("link", name="Title").click()  # sort by title, then tick two
    expect(rows.first).to_contain_text("Board minutes")
    check_page(page, "sorted")
    page.get_by_label("Choose Board minutes").check()
    page.get_by_label("Choose Needs assessment").check()
    page.get_by_label("Place a hold").check()
    page.get_by_label("Reason").fill("FOI request about the panel")
    page.get_by_role("button", name="Apply to ticked records").click()
    expect(page.locator(".error-summary")).to_contain_text("Enter the case reference")
    expect(page.get_by_label("Choose Board minutes")).to_be_checked()  # nothing lost
    check_page(page, "bulk refused")
    page.get_by_label("Case reference for the hold").fill("FOI-2026-0142")
    page.get_by_role("button", name="Apply to ticked records").click()
    expect(page.get_by_text("Hold FOI-2026-0142 placed on 2 records.")).to_be_visible()
    expect(rows.first).to_contain_text("Board minutes")  # still sorted by title
    page.goto(f"{server.base_url}/retention/holds")
    expect(page.locator(".cards > li")).to_have_count(2)
    check_page(page)
