"""The contract page's known gaps (listed for everyone, recorded and closed by records
managers, refused forms keep their values) and the checklist telling them apart; the
record pages' "Attachment of" / "Attachments" and OCR marks."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient

from records_service.auth.service import get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.records.capture import capture_record
from records_service.records.schemas import RecordMetadata
from records_service.runtime.services import Services
from support.outlook import Attachment, msg_bytes
from support.scans import require_tesseract, scan_bytes
from web.signin import csrf_of

REF = "OPCC-2025-003"
PAGE = f"/contracts/{REF}"


def _setup(services: Services) -> None:
    with session_scope(services.engine) as session:
        create_contract(
            session,
            data=ContractCreate(
                reference=REF,
                title="Domestic abuse helpline",
                status="active",
                start_date=date(2025, 10, 1),
                end_date=date(2027, 9, 30),
            ),
            actor=get_user(session, "sam"),
            clock=services.clock,
        )


def _capture(services: Services, content: bytes, filename: str, record_type: str) -> str:
    with session_scope(services.engine) as session:
        actor = get_user(session, "sam")
    record, _ = capture_record(
        services.capture_context(),
        meta=RecordMetadata(
            title=filename, record_type=record_type, contract=REF, record_date=date(2025, 12, 20)
        ),
        source=io.BytesIO(content),
        filename=filename,
        actor=actor,
    )
    return record.id


def _boxes(name: str, day: str, month: str, year: str) -> dict[str, str]:
    return {f"{name}_day": day, f"{name}_month": month, f"{name}_year": year}


def _gap_form(client: TestClient, **fields: str) -> dict[str, str]:
    form = {
        "record_type": "monitoring_return",
        **_boxes("period_start", "1", "10", "2025"),
        **_boxes("period_end", "31", "12", "2025"),
        "reason": "lost",
        "evidence": "Named in the provider's covering e-mail; not on the shared drive.",
        "reported_by": "Pat Jones",
        "csrf_token": csrf_of(client.get(PAGE)),
    }
    form.update(fields)
    return form


def _checklist(page: str) -> str:
    return page[page.index('id="checklist-heading"') : page.index('id="gaps"')]


def test_records_managers_record_and_close_gaps_that_the_checklist_explains(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    _setup(web_services)
    manager, staff = browser_for("rob"), browser_for("sam")
    before = _checklist(manager.get(PAGE).text)
    assert "Unexplained." in before and "Known gap" not in before

    form_page = manager.get(PAGE).text
    assert 'id="period_start_day"' in form_page and 'id="period_end_year"' in form_page
    backwards = _gap_form(manager, **_boxes("period_end", "30", "9", "2025"))
    refused = manager.post(f"{PAGE}/gaps", data=backwards)
    assert refused.status_code == 422
    assert 'id="period_end-error"' in refused.text
    assert "Named in the provider&#39;s covering e-mail" in refused.text  # kept
    not_a_day = _gap_form(manager, **_boxes("period_start", "31", "2", "2025"), reason="")
    refused = manager.post(f"{PAGE}/gaps", data=not_a_day)
    assert refused.status_code == 422
    start = refused.text.split('id="period_start"', 1)[1].split("</fieldset>", 1)[0]
    assert 'id="period_start-error"' in start and "must be a real date" in start
    assert re.search(r'id="period_start_day"[^>]*value="31"[^>]*aria-invalid="true"', start)
    assert 'id="reason-error"' in refused.text  # every error at once
    assert staff.post(f"{PAGE}/gaps", data=_gap_form(staff)).status_code == 403

    recorded = manager.post(f"{PAGE}/gaps", data=_gap_form(manager))
    assert (recorded.status_code, recorded.headers["location"]) == (303, f"{PAGE}#gaps")
    page = staff.get(PAGE).text
    assert "Gap 1: monitoring return" in page and "Lost. Named in the provider" in page
    checklist = _checklist(page)
    assert "Known gap 1: lost (2025-10-01 to 2025-12-31), reported by Pat Jones." in checklist
    assert "Unexplained." in checklist  # the next quarter's return
    assert 'action="/contracts/OPCC-2025-003/gaps"' not in page  # staff see no form

    found = _capture(web_services, b"Q3 monitoring return\n", "q3.txt", "monitoring_return")
    token = csrf_of(manager.get(PAGE))
    wrong = manager.post(
        f"{PAGE}/gaps/1/close", data={"found_record": "x" * 32, "csrf_token": token}
    )
    assert wrong.status_code == 422 and 'id="close-1-error"' in wrong.text
    closed = manager.post(f"{PAGE}/gaps/1/close", data={"found_record": found, "csrf_token": token})
    assert closed.status_code == 303
    page = manager.get(PAGE).text
    assert f'<a href="/records/{found}">the record found</a>' in page
    assert "Close gap 1" not in page


def test_record_pages_link_a_message_and_its_attachments_and_mark_ocr(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    require_tesseract()
    _setup(web_services)
    message = msg_bytes(
        subject="Signed contract",
        sender=("Jo Bloggs", "jo@provider.example"),
        to=("Commissioning", "commissioning@opcc.example"),
        body="Attached.",
        sent=datetime(2025, 12, 20, tzinfo=UTC),
        attachments=[Attachment("scan.png", scan_bytes([["Signed by both parties"]], "PNG"))],
    )
    message_id = _capture(web_services, message, "signed.msg", "contract")
    web_services.run_background_once()
    reader = browser_for("sam")
    page = reader.get(f"/records/{message_id}").text
    found = re.search(
        r'<dt>Attachments</dt><dd><ul class="plain-list"><li><a href="/records/(\w+)">scan.png</a>',
        page,
    )
    assert found, page
    part = reader.get(f"/records/{found.group(1)}").text
    assert f'<dt>Attachment of</dt><dd><a href="/records/{message_id}">signed.msg</a></dd>' in part
    assert "text recognised by OCR from the scan" in part
    assert "text recognised by OCR" not in page
