"""The web interface in a real headless Chromium, against a server process the test starts.

Drives the main journey: sign in, upload two files to a contract, find one by a
phrase from inside it, open the contract to see the checklist and timeline, and
approve a disposition as a second records manager. Screenshots of the main pages
are saved under ``test-artifacts/screenshots/`` and kept under a size limit.

Chromium comes from the system (``scripts/setup-system.sh`` installs Debian's
package); without it these tests fail, they are not skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from records_service.audit.writer import prepare_audit
from records_service.runtime.launch import ServedProcess
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.server import Serve
from support.waiting import READY_SECONDS
from web.axe import check_page, watch
from web.seeding import CONTRACT, add_people, capture_pilot_record, open_contracts
from web.signin import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SCREENSHOT_LIMIT = 500 * 1024
MAX_SHOT_HEIGHT = 2000
RETURN_Q1 = (
    "Quarterly monitoring return, April to June 2023.\n"
    "The helpline answered calls from survivors across the county every night,\n"
    "and the waiting time fell to four minutes.\n"
)
RETURN_Q2 = "Quarterly monitoring return, July to September 2023.\nReferrals to refuges rose.\n"
# How long an action or an expectation waits for the page: a page that answers in
# well under a second on an idle machine can take many seconds on a loaded one.
PAGE_TIMEOUT_MS = 60_000
expect.set_options(timeout=PAGE_TIMEOUT_MS)


def _seed(settings: Settings) -> None:
    """Two records managers, an active contract, and an old one with an expired record."""
    services = Services.start(settings)
    try:
        list(prepare_audit(settings, services.store))  # the checkpoint signing key, as init
        add_people(services, {"rob": "records_manager", "rhi": "records_manager"})
        open_contracts(services, provider="Safe Haven Trust", awarded_value_pence=4_500_000)
        capture_pilot_record(
            services,
            settings.data_dir / "spec.txt",
            "Advocacy pilot specification",
            "Specification of the victim advocacy pilot.\n",
        )
    finally:
        services.close()


@pytest.fixture
def server(tmp_path: Path, serve: Serve) -> ServedProcess:
    """A seeded service running as its own process on a free loopback port."""
    data_dir = tmp_path / "data"
    env = {
        "RECORDS_WORKERS__POLL_SECONDS": "0.2",
        "RECORDS_RETENTION__INTERVAL_HOURS": "0",
        "RECORDS_AUDIT__CHECKPOINT_EVERY_SECONDS": "1",
    }
    _seed(Settings(data_dir=data_dir))
    return serve(data_dir, "--log-level", "warning", env=env)


def _new_page(browser: Browser) -> Page:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Europe/London"
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    watch(page)
    return page


def _shot(page: Page, name: str) -> None:
    """Check the page with axe-core, save its top (up to three screens) and check the
    file stays small."""
    check_page(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), MAX_SHOT_HEIGHT)
    page.screenshot(
        path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
    )
    size = path.stat().st_size
    assert size < SCREENSHOT_LIMIT, f"{path.name} is {size} bytes"


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_title("Sign in \N{EN DASH} Records service")
    check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    check_page(page)


def _drop_files(page: Page) -> None:
    """Dropping files on the upload zone fills the file input, as choosing them does."""
    page.evaluate(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["one"], "board-minutes.txt", {type: "text/plain"}));
            transfer.items.add(new File(["two"], "decision_record.pdf", {type: "application/pdf"}));
            const zone = document.querySelector("[data-drop-zone]");
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }"""
    )
    expect(page.get_by_label("Title for board-minutes.txt")).to_have_value("Board minutes")
    expect(page.get_by_label("Title for decision_record.pdf")).to_have_value("Decision record")
    assert page.evaluate("document.getElementById('files').files.length") == 2
    # The single title box is replaced, so it is not sent as well.
    expect(page.locator("[data-single-title]")).to_be_hidden()


def _upload_two_returns(page: Page, base: str, tmp_path: Path) -> None:
    page.goto(f"{base}/upload?contract={CONTRACT}")
    _drop_files(page)
    first, second = tmp_path / "monitoring-return_q1.txt", tmp_path / "monitoring-return_q2.txt"
    first.write_text(RETURN_Q1)
    second.write_text(RETURN_Q2)
    page.set_input_files("#files", [str(first), str(second)])
    # Enhanced with a title box per file, filled from each file's name.
    expect(page.get_by_label("Title for monitoring-return_q1.txt")).to_have_value(
        "Monitoring return q1"
    )
    page.get_by_label("Title for monitoring-return_q2.txt").fill("Monitoring return Q2 2023")
    page.get_by_label("Record type", exact=True).select_option("monitoring_return")
    page.get_by_label("Tags (optional)").fill("helpline, quarterly")
    batch_date = page.get_by_role("group", name="Record date", exact=True)
    batch_date.get_by_label("Day").fill("15")
    batch_date.get_by_label("Month").fill("7")
    batch_date.get_by_label("Year").fill("2023")
    _shot(page, "upload")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("2 of 2 files captured.")).to_be_visible()
    check_page(page, "captured")
    expect(page.get_by_role("link", name="Monitoring return Q2 2023")).to_be_visible()


def _find_by_phrase(page: Page, base: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    # Extraction and indexing run in the server's background thread, after the upload.
    while True:
        page.goto(f"{base}/search")
        check_page(page)
        page.get_by_label("Words, phrases or fields to find").fill('"calls from survivors"')
        page.get_by_label("Words, phrases or fields to find").press("Enter")
        page.wait_for_url("**/search?q=*")
        check_page(page)
        if page.get_by_role("heading", name="1 result").count():
            break
        assert time.monotonic() < deadline, page.content()
        time.sleep(0.5)
    # A shareable address, without the blank filters.
    assert page.url.endswith("/search?q=%22calls+from+survivors%22&sort=relevance")
    expect(page.locator(".snippet mark").first).to_have_text("calls")
    _shot(page, "search-results")
    page.get_by_role("link", name="Monitoring return q1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Monitoring return q1")
    expect(page.locator(".preview-text")).to_contain_text("calls from survivors")
    _shot(page, "record")


def _contract_checklist_and_timeline(page: Page, base: str) -> None:
    page.goto(f"{base}/contracts/{CONTRACT}")
    expect(page.get_by_role("heading", name="Completeness checklist")).to_be_visible()
    expect(page.locator(".check-missing").first).to_contain_text("Missing")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Monitoring return q1")
    expect(timeline).to_contain_text("Monitoring return Q2 2023")
    expect(timeline).to_contain_text("Contract starts")
    _shot(page, "contract")


def _propose_and_approve(browser: Browser, page: Page, base: str) -> None:
    page.goto(f"{base}/retention")
    check_page(page)
    # Before the first check the findings page says so, and offers to run it.
    expect(page.locator("#no-check-yet")).to_contain_text("No retention check has run yet")
    page.get_by_role("button", name="Run the retention check now").click()
    expect(page.get_by_text("1 disposal proposed")).to_be_visible()
    _shot(page, "retention-findings")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    check_page(page, "signed out")
    second = _new_page(browser)
    _sign_in(second, base, "rhi")
    second.get_by_role("link", name="Retention", exact=True).click()
    expect(second.get_by_role("heading", name="Findings")).to_be_visible()
    check_page(second)
    second.get_by_role("link", name="Dispositions").click()
    expect(
        second.get_by_role("link", name="Advocacy pilot specification", exact=True)
    ).to_be_visible()
    _shot(second, "dispositions")
    # Approving shows what will go first, behind a warning-coloured button.
    second.get_by_role("link", name="Approve and destroy").click()
    expect(second.get_by_role("heading", level=1)).to_have_text(
        "Check what will be destroyed or transferred"
    )
    expect(second.get_by_text("Version 1: spec.txt")).to_be_visible()
    second.get_by_label("Reason for approving").fill(
        "Six years after the pilot ended; nothing holds it"
    )
    _shot(second, "disposal-confirmation")
    second.get_by_role("button", name="Destroy 1 record").click()
    expect(second.get_by_role("status").first).to_contain_text("approved and carried out")
    check_page(second, "approved")
    second.get_by_role("link", name="Audit").click()
    expect(second.get_by_text("Root hash")).to_be_visible()
    check_page(second)
    second.get_by_role("button", name="Verify the audit log").click()
    expect(second.get_by_role("heading", name="The audit log verified")).to_be_visible()
    _shot(second, "audit")


def test_main_journey_in_a_real_browser(
    server: ServedProcess, browser: Browser, tmp_path: Path
) -> None:
    page = _new_page(browser)
    _sign_in(page, server.base_url, "rob")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to main content"
    _upload_two_returns(page, server.base_url, tmp_path)
    page.goto(f"{server.base_url}/")
    _shot(page, "dashboard")
    _find_by_phrase(page, server.base_url)
    _contract_checklist_and_timeline(page, server.base_url)
    _propose_and_approve(browser, page, server.base_url)
