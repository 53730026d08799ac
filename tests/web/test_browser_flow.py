"""Deciding, checking and reading on any screen, in a real headless Chromium.

One seeded server and one browser serve the whole module. Covers disposal approved
only after a confirmation page (one or several at once, never by the proposer), the
dashboard before the first retention check, the contrast of status colours, forms that
show every error at once beside its own field, and pages that reflow at 320 pixels
wide with tables scrolling in their own boxes. Every page state is checked with
axe-core (``web.axe``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from records_service.audit.writer import prepare_audit
from records_service.auth.service import get_user
from records_service.db import session_scope
from records_service.retention.dispositions import propose_disposition
from records_service.retention.models import DisposalAction
from records_service.runtime.launch import ServedProcess
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.server import serving_for_a_test
from web.axe import check_page
from web.seeding import CONTRACT, add_people, capture_pilot_record, open_contracts
from web.signin import PASSWORD
from web.test_browser import _new_page, _sign_in

pytestmark = pytest.mark.browser

# Past their retention on the old contract: who proposed each for destruction.
EXPIRED = {
    "Advocacy pilot specification": "rob",
    "Advocacy pilot tender": "rob",
    "Advocacy pilot evaluation": "rhi",
}
# Every status shown in colour, with the words it repeats.
STATUS_SELECTORS = [".check-state", ".check-problems", ".tag", ".error-message", ".notice", ".hint"]
# Foreground against the nearest opaque background, as WCAG 2.2 (1.4.3) measures it.
CONTRASTS = """(selectors) => {
    const channels = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = (rgb) => {
        const [r, g, b] = rgb.slice(0, 3).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const background = (node) => {
        for (; node; node = node.parentElement) {
            const rgba = channels(getComputedStyle(node).backgroundColor);
            if (rgba.length < 4 || rgba[3] > 0) return rgba;
        }
        return [255, 255, 255];
    };
    return selectors.flatMap((selector) => [...document.querySelectorAll(selector)].map((node) => {
        const ink = luminance(channels(getComputedStyle(node).color));
        const paper = luminance(background(node));
        const ratio = (Math.max(ink, paper) + 0.05) / (Math.min(ink, paper) + 0.05);
        return [selector, node.textContent.trim().slice(0, 40), ratio];
    }));
}"""


def _expired_and_proposed(settings: Settings, services: Services) -> None:
    for number, (title, proposer) in enumerate(EXPIRED.items()):
        path = settings.data_dir / f"pilot-{number}.txt"
        text = f"{title} of the victim advocacy pilot.\n"
        record = capture_pilot_record(services, path, title, text)
        with session_scope(services.engine) as session:
            propose_disposition(
                session,
                record_id=record.id,
                action=DisposalAction.DESTROY,
                reason="Six years after the pilot ended",
                actor=get_user(session, proposer),
                schedule=services.schedule,
                clock=services.clock,
            )


def _seed(settings: Settings) -> None:
    """Two records managers and an auditor, a contract with nothing on file, and three
    expired records proposed for destruction; no retention check has run."""
    services = Services.start(settings)
    try:
        list(prepare_audit(settings, services.store))  # the checkpoint signing key, as init
        add_people(services, {"rob": "records_manager", "rhi": "records_manager", "aud": "auditor"})
        open_contracts(services)
        _expired_and_proposed(settings, services)
    finally:
        services.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """A seeded service running as its own process, shared by the module's tests."""
    data_dir = tmp_path_factory.mktemp("flow") / "data"
    _seed(Settings(data_dir=data_dir))
    env = {"RECORDS_WORKERS__POLL_SECONDS": "0.2", "RECORDS_RETENTION__INTERVAL_HOURS": "0"}
    starter = serving_for_a_test()
    serve = next(starter)
    try:
        yield serve(data_dir, "--log-level", "warning", env=env)
    finally:
        next(starter, None)  # runs the starter's clean-up: stops the server


def _signed_in(browser: Browser, server: ServedProcess, username: str) -> Page:
    page = _new_page(browser)
    _sign_in(page, server.base_url, username)
    return page


def test_disposal_is_confirmed_first_and_never_by_its_proposer(
    server: ServedProcess, browser: Browser
) -> None:
    page = _signed_in(browser, server, "rhi")
    page.goto(f"{server.base_url}/retention/dispositions")
    check_page(page)
    own = page.locator(".card").filter(has_text="Advocacy pilot evaluation")
    expect(own).to_contain_text("You proposed this disposal, so you cannot approve or reject it")
    expect(own.get_by_role("link", name="Approve and destroy")).to_have_count(0)
    page.get_by_label("Tick to approve with others: Advocacy pilot specification").check()
    page.get_by_label("Tick to approve with others: Advocacy pilot tender").check()
    page.get_by_role("button", name="Approve the ticked disposals").click()
    # Nothing has gone yet: the page lists exactly what will.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check what will be destroyed or transferred"
    )
    for title, number in (("Advocacy pilot specification", 0), ("Advocacy pilot tender", 1)):
        card = page.locator(".card").filter(has_text=title)
        expect(card).to_contain_text(f"Version 1: pilot-{number}.txt")
    expect(page.locator("main")).not_to_contain_text("Advocacy pilot evaluation")
    button = page.get_by_role("button", name="Destroy 2 records")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(212, 53, 28)"
    check_page(page)
    button.click()
    expect(page.locator(".error-summary")).to_contain_text("Give a reason for approving")
    check_page(page, "no reason")
    page.get_by_label("Reason for approving").fill("Six years after the pilot ended")
    page.get_by_role("button", name="Destroy 2 records").click()
    expect(page.get_by_role("status").first).to_contain_text("2 disposals approved and carried out")
    check_page(page, "approved")


def test_dashboard_says_no_check_has_run_and_offers_to_run_one(
    server: ServedProcess, browser: Browser
) -> None:
    auditor = _signed_in(browser, server, "aud")
    findings = auditor.get_by_role("region", name="Open findings")
    expect(findings).to_contain_text("No retention check has run yet")
    expect(findings).to_contain_text("A records manager or an administrator can run it now")
    expect(findings.get_by_role("button")).to_have_count(0)
    expect(findings).not_to_contain_text("complete")
    page = _signed_in(browser, server, "rob")
    page.get_by_role("button", name="Run the retention check now").click()
    expect(page.get_by_role("status").first).to_contain_text("Retention check finished")
    check_page(page, "after the first check")
    page.goto(f"{server.base_url}/")
    expect(page.get_by_text("As of the last retention check")).to_be_visible()
    expect(page.get_by_role("link", name="Missing records")).to_be_visible()
    check_page(page, "after the first check")


def test_status_colours_have_at_least_4_5_to_1_contrast(
    server: ServedProcess, browser: Browser
) -> None:
    page = _signed_in(browser, server, "rob")
    page.goto(f"{server.base_url}/contracts/{CONTRACT}")
    expect(page.locator(".check-missing .check-state").first).to_contain_text("Missing")
    check_page(page)
    measured = page.evaluate(CONTRASTS, STATUS_SELECTORS)
    assert any(text.endswith("Missing") for _, text, _ in measured), measured
    low = [(selector, text, round(ratio, 2)) for selector, text, ratio in measured if ratio < 4.5]
    assert low == []


def _errors_lead_to_their_fields(
    page: Page, fields: dict[str, str], focus: dict[str, str] | None = None
) -> None:
    """Each error is in the summary, beside its field, and its link moves focus there
    (for a group of boxes, ``focus`` names the first box)."""
    focus = focus or {}
    summary = page.locator(".error-summary")
    for field, message in fields.items():
        link = summary.get_by_role("link", name=message)
        expect(link).to_have_attribute("href", f"#{focus.get(field, field)}")
        expect(page.locator(f"#{field}-error")).to_contain_text(message)
    first, message = next(iter(fields.items()))
    summary.get_by_role("link", name=message).click()
    assert page.evaluate("document.activeElement.id") == focus.get(first, first)


def test_forms_show_every_error_at_once_each_on_its_own_field(
    server: ServedProcess, browser: Browser
) -> None:
    page = _new_page(browser)
    page.goto(f"{server.base_url}/login")
    page.get_by_label("Username").fill("rob")
    page.get_by_label("Password").fill(PASSWORD + "wrong")
    page.get_by_role("button", name="Sign in").click()
    summary = page.locator(".error-summary")
    expect(
        summary.get_by_role("link", name="Enter a correct username and password")
    ).to_be_visible()
    expect(page.get_by_label("Password")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_have_count(0)
    check_page(page, "refused")
    page = _signed_in(browser, server, "rob")
    page.goto(f"{server.base_url}/contracts/new")
    check_page(page)
    page.get_by_label("Awarded value in pounds (optional)").fill("lots")
    page.get_by_role("button", name="Open contract").click()
    _errors_lead_to_their_fields(
        page,
        {
            "reference": "Enter a reference of 2 to 64",
            "title": "Enter a title",
            "awarded_value": "Enter an amount in pounds",
        },
    )
    check_page(page, "refused")
    page.goto(f"{server.base_url}/retention/holds")
    check_page(page)
    page.get_by_role("button", name="Place hold").click()
    _errors_lead_to_their_fields(
        page,
        {
            "contract": "Choose the contract to hold by its reference or title",
            "reference": "Enter the case reference",
            "reason": "Say why the hold is needed",
        },
    )
    check_page(page, "refused")


# The pages a person most uses, which must never scroll sideways on a narrow screen.
# What sticks out past the right edge of the screen (outside any scroll box), by tag and class.
TOO_WIDE = """() => {
    const edge = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= edge) return [];
    return [...document.querySelectorAll("body *")]
        .filter((node) => !node.closest(".table-scroll") || node.matches(".table-scroll"))
        .filter((node) => node.getBoundingClientRect().right > edge + 0.5)
        .map((node) => `${node.tagName.toLowerCase()}.${node.className}`.slice(0, 60));
}"""
NARROW_PAGES = ("/", "/records", "/retention", "/retention/dispositions", "/audit", "/upload")


def test_pages_reflow_at_320_pixels_with_tables_in_their_own_scroll_boxes(
    server: ServedProcess, browser: Browser
) -> None:
    page = _signed_in(browser, server, "rob")
    page.set_viewport_size({"width": 320, "height": 640})
    for path in NARROW_PAGES:
        page.goto(f"{server.base_url}{path}")
        assert page.evaluate(TOO_WIDE) == [], path
        for box in page.locator(".table-scroll").all():
            expect(box).to_have_attribute("role", "region")
            expect(box).to_have_attribute("tabindex", "0")
            assert box.get_attribute("aria-label")
        assert page.locator("table").count() == page.locator(".table-scroll > table").count()
        check_page(page, "320 pixels wide")
