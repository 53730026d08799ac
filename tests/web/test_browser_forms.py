"""Forms that must not lose a person's work, in a real headless Chromium.

One seeded server and one browser serve the whole module, to keep it fast. Covers
the upload (a refused upload keeps the chosen files, Enter in a box does not submit,
each file's own record date reaches the contract's checklist, progress while sending)
and the audit page (its pagination after Verify).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from pypdf import PdfWriter

from records_service.audit.writer import prepare_audit, writer_for
from records_service.auth.service import add_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.runtime.launch import ServedProcess
from records_service.runtime.services import Services
from records_service.settings import Settings
from support.server import serving_for_a_test
from web.axe import check_page
from web.signin import password_hash
from web.test_browser import _new_page, _sign_in

pytestmark = pytest.mark.browser

CONTRACT = "OPCC-2023-014"
# A contract of its own for the one-file upload, so its checklist is not the other test's.
SECOND_CONTRACT = "OPCC-2023-015"
# More users than one page of the audit log holds, so it has a second page.
CLERKS = 60


def _seed(settings: Settings) -> None:
    """A records manager, an active contract, and enough audit entries for two pages."""
    services = Services.start(settings)
    try:
        list(prepare_audit(settings, services.store))  # the checkpoint signing key, as init
        with session_scope(services.engine) as session:
            rob = add_user(session, username="rob", roles=["records_manager"], clock=services.clock)
            rob.password_hash = password_hash()
            for number in range(CLERKS):
                add_user(
                    session, username=f"clerk{number:02}", roles=["staff"], clock=services.clock
                )
            for reference, title in (
                (CONTRACT, "Domestic abuse helpline"),
                (SECOND_CONTRACT, "ISVA service"),
            ):
                data = ContractCreate(
                    reference=reference,
                    title=title,
                    status="active",
                    start_date="2023-04-01",
                    end_date="2026-03-31",
                )
                create_contract(session, data=data, actor=rob, clock=services.clock)
        writer = writer_for(
            settings, engine=services.engine, store=services.store, clock=services.clock
        )
        assert writer.publish() is not None  # a signed checkpoint for Verify to check
    finally:
        services.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """A seeded service running as its own process, shared by the module's tests."""
    data_dir = tmp_path_factory.mktemp("forms") / "data"
    _seed(Settings(data_dir=data_dir))
    starter = serving_for_a_test()
    serve = next(starter)
    try:
        yield serve(
            data_dir, "--log-level", "warning", env={"RECORDS_WORKERS__POLL_SECONDS": "0.2"}
        )
    finally:
        next(starter, None)  # runs the starter's clean-up: stops the server


def _returns(folder: Path) -> list[Path]:
    """Three files whose dates are in their names or in their own metadata."""
    first = folder / "monitoring-return_2023-06-30.txt"
    first.write_text("Quarterly monitoring return, April to June 2023.\n")
    pdf = PdfWriter()
    pdf.add_blank_page(width=200, height=200)
    pdf.add_metadata({"/CreationDate": "D:20230929120000Z", "/Title": "Return"})
    second = folder / "quarter-two-return.pdf"
    with second.open("wb") as out:
        pdf.write(out)
    word = docx.Document()
    word.add_paragraph("Minutes of the contract review meeting.")
    word.core_properties.created = datetime(2023, 10, 12, 9, 30, tzinfo=UTC)
    buffer = io.BytesIO()
    word.save(buffer)
    third = folder / "review-meeting.docx"
    third.write_bytes(buffer.getvalue())
    return [first, second, third]


def _watch_sending(page: Page) -> None:
    """Note, as the page changes, whether the button was disabled and how far each bar got."""
    page.evaluate(
        """() => {
            window.seen = {disabled: false, bars: {}};
            new MutationObserver((changes) => changes.forEach((change) => {
                const node = change.target;
                if (node.matches("[data-upload-button]") && node.disabled) {
                    window.seen.disabled = true;
                }
                if (node.tagName === "PROGRESS") {
                    window.seen.bars[node.id] = Math.max(
                        window.seen.bars[node.id] || 0, Number(node.value));
                }
            })).observe(document.querySelector("form[data-upload-form]"),
                        {attributes: true, subtree: true});
        }"""
    )


def _date_group(page: Page, name: str) -> Locator:
    """A date's day, month and year boxes, by the group's legend."""
    return page.get_by_role("group", name=name, exact=True)


def _expect_date(group: Locator, day: str, month: str, year: str) -> None:
    for part, value in (("Day", day), ("Month", month), ("Year", year)):
        expect(group.get_by_label(part)).to_have_value(value)


def _suggested_dates(page: Page) -> None:
    for name, day, source in (
        ("monitoring-return_2023-06-30.txt", ("30", "6", "2023"), "the file name"),
        ("quarter-two-return.pdf", ("29", "9", "2023"), "the PDF's creation date"),
        ("review-meeting.docx", ("12", "10", "2023"), "the Word document's properties"),
    ):
        group = _date_group(page, f"Record date for {name}")
        _expect_date(group, *day)
        expect(group.locator(".hint")).to_contain_text(f"Suggested from {source}")


def test_an_upload_keeps_its_files_until_filed_and_each_file_keeps_its_date(
    server: ServedProcess, browser: Browser, tmp_path: Path
) -> None:
    page = _new_page(browser)
    _sign_in(page, server.base_url, "rob")
    page.goto(f"{server.base_url}/upload?contract={CONTRACT}")
    _expect_date(_date_group(page, "Record date"), "", "", "")
    page.set_input_files("#files", [str(p) for p in _returns(tmp_path)])
    _suggested_dates(page)
    check_page(page, "three files chosen")
    page.evaluate("window.samePage = true")
    # Enter in a text box does not send the half-filled form.
    page.get_by_label("Contract").press("Enter")
    page.get_by_label("Title for review-meeting.docx").press("Enter")
    assert page.evaluate("window.samePage") is True
    # Refused before any file is sent: each error beside its field, the files kept.
    page.get_by_role("button", name="Upload", exact=True).click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Choose a record type for monitoring-return_2023-06-30.txt")
    check_page(page, "refused")
    page.get_by_label("Record type", exact=True).select_option("monitoring_return")
    page.get_by_label("Record type for review-meeting.docx").select_option("minutes")
    second_date = _date_group(page, "Record date for quarter-two-return.pdf")
    second_date.get_by_label("Year").fill("2099")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(summary).to_contain_text("in the future")
    expect(page.locator("#record_date-1-error")).to_be_visible()
    expect(second_date.get_by_label("Year")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.getElementById('files').files.length") == 3
    assert page.evaluate("window.samePage") is True
    second_date.get_by_label("Year").fill("2023")
    _watch_sending(page)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("3 of 3 files captured.")).to_be_visible()
    check_page(page, "captured")
    seen = page.evaluate("window.seen")
    assert seen["disabled"] is True
    assert seen["bars"] == {
        "batch-progress": 100, "progress-0": 100, "progress-1": 100, "progress-2": 100,
    }  # fmt: skip
    # Each return counts for its own quarter on the contract's checklist.
    page.goto(f"{server.base_url}/contracts/{CONTRACT}")
    checklist = page.locator("main")
    expect(checklist).to_contain_text("No return for 1 Oct 2023")
    expect(checklist).not_to_contain_text("No return for 1 Apr 2023")
    expect(checklist).not_to_contain_text("No return for 1 Jul 2023")
    expect(page.locator(".timeline")).to_contain_text("Review meeting")
    check_page(page)


def test_a_files_suggested_date_fills_its_three_boxes_and_reaches_the_checklist(
    server: ServedProcess, browser: Browser, tmp_path: Path
) -> None:
    page = _new_page(browser)
    _sign_in(page, server.base_url, "rob")
    page.goto(f"{server.base_url}/upload?contract={SECOND_CONTRACT}&record_type=monitoring_return")
    check_page(page)
    ret = tmp_path / "isva-return_2023-08-15.txt"
    ret.write_text("Quarterly monitoring return, July to September 2023.\n")
    page.set_input_files("#files", str(ret))
    group = _date_group(page, f"Record date for {ret.name}")
    _expect_date(group, "15", "8", "2023")
    expect(group.locator(".hint")).to_contain_text("Suggested from the file name")
    # A part left out is refused on the file's own date group, its box marked.
    group.get_by_label("Month").fill("")
    page.get_by_role("button", name="Upload", exact=True).click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text(f"Record date for {ret.name} must include a month")
    expect(group.locator("#record_date-0-error")).to_be_visible()
    expect(group.get_by_label("Month")).to_have_attribute("aria-invalid", "true")
    expect(group.get_by_label("Day")).not_to_have_attribute("aria-invalid", "true")
    check_page(page, "a file's date refused")
    group.get_by_label("Month").fill("8")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("1 of 1 file captured.")).to_be_visible()
    check_page(page, "captured")
    page.get_by_role("link", name="Isva return 2023 08 15").click()
    expect(page.locator("main")).to_contain_text("15 Aug 2023")
    check_page(page)
    # The return counts for the quarter it is dated in, and only that one.
    page.goto(f"{server.base_url}/contracts/{SECOND_CONTRACT}")
    checklist = page.locator("main")
    expect(checklist).to_contain_text("No return for 1 Apr 2023")
    expect(checklist).not_to_contain_text("No return for 1 Jul 2023")
    check_page(page)


def test_the_audit_pages_after_verify_lead_on_through_the_log(
    server: ServedProcess, browser: Browser
) -> None:
    page = _new_page(browser)
    _sign_in(page, server.base_url, "rob")
    page.goto(f"{server.base_url}/audit")
    check_page(page)
    page.get_by_role("button", name="Verify the audit log").click()
    expect(page.get_by_role("heading", name="The audit log verified")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("Page 2 of")).to_be_visible()
    check_page(page)
    assert page.url == f"{server.base_url}/audit?page=2"
    # Newest first: page 2 holds the older entries, in words.
    expect(page.get_by_role("cell", name="User added").first).to_be_visible()
