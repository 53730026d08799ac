"""The audit page: entries with filters, the latest checkpoint, and verification."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.audit.actions import AuditAction
from records_service.audit.writer import prepare_audit, writer_for
from records_service.runtime.services import Services
from records_service.web.pages.audit import ACTION_NAMES, PAGE_SIZE
from web.signin import add_person, csrf_of
from web.test_upload_and_records import NEEDS, open_contract, record_ids, upload


def test_entries_filters_checkpoint_and_verify(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    sam, aud = browser_for("sam"), browser_for("aud")
    [record_id] = record_ids(upload(sam, [("needs.txt", NEEDS)], contract="")[1])
    page = aud.get("/audit?action=record.capture").text
    assert f"Record {record_id}" in page and "1 entry" in page
    by_actor = aud.get("/audit?actor=nobody").text
    assert "No entries match" in by_actor
    bad_date = aud.get("/audit?from=not-a-date")
    assert bad_date.status_code == 422 and 'id="from-error"' in bad_date.text
    assert "No checkpoint has been signed yet" in page
    list(prepare_audit(web_services.settings, web_services.store))  # the signing key, as init
    writer = writer_for(
        web_services.settings,
        engine=web_services.engine,
        store=web_services.store,
        clock=web_services.clock,
    )
    assert writer.publish() is not None
    signed = aud.get("/audit")
    assert "Latest signed checkpoint" in signed.text and "Root hash" in signed.text
    report = aud.post("/audit/verify", data={"csrf_token": csrf_of(signed)})
    assert report.status_code == 200
    assert "The audit log verified" in report.text


def _entry_indexes(page: str) -> list[int]:
    return [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]


def test_entries_are_newest_first_in_words_with_the_records_title_and_contract(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    open_contract(web_services)
    sam, aud = browser_for("sam"), browser_for("aud")
    [record_id] = record_ids(upload(sam, [("needs-assessment.txt", NEEDS)])[1])
    page = aud.get("/audit").text
    indexes = _entry_indexes(page)
    assert len(indexes) > 2 and indexes == sorted(indexes, reverse=True)
    oldest = _entry_indexes(aud.get("/audit?order=oldest").text)
    assert oldest == sorted(oldest) and oldest[0] < indexes[0]
    assert "Record captured" in page and "Signed in" in page
    row = re.search(rf"<tr>(?:(?!</tr>).)*Record {record_id}.*?</tr>", page, re.S)
    assert row, "the capture's row names the record"
    assert "Needs assessment" in row.group(0) and "OPCC-2023-014" in row.group(0)
    assert '<option value="auth.sign_in">Signed in</option>' in page


def test_pagination_after_verify_leads_to_the_audit_log(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    aud = browser_for("aud")
    for number in range(PAGE_SIZE):  # more entries than one page holds
        add_person(web_services, f"clerk{number:02}", "staff")
    page = aud.get("/audit")
    report = aud.post("/audit/verify", data={"csrf_token": csrf_of(page)})
    assert report.status_code == 200
    links = re.findall(r'<a href="([^"]+)" rel="next"', report.text)
    assert links == ["/audit?page=2"]
    assert aud.get(links[0]).status_code == 200


def test_every_action_has_a_name_in_words() -> None:
    assert set(ACTION_NAMES) == set(AuditAction)


def test_entries_sort_by_who_and_action_with_filters_as_chips(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    aud = browser_for("aud")
    browser_for("sam")
    by_who = aud.get("/audit?sort=who").text
    who = re.findall(r"<tr>\s*<td>\d+</td>\s*<td[^>]*>.*?</td>\s*<td>([^<]*)</td>", by_who, re.S)
    assert who and who == sorted(who)
    assert 'aria-sort="ascending"' in by_who and "by who" in by_who
    refused = aud.get("/audit?sort=details")
    assert refused.status_code == 422 and "sort by one of action, when, who" in refused.text
    chips = aud.get("/audit?actor=sam&action=auth.sign_in&from_day=1&from_month=6&from_year=2026")
    assert chips.status_code == 200
    assert re.search(r'class="chip" href="/audit\?action=auth.sign_in&amp;from_day=1', chips.text)
    assert ">Action: Signed in<" in chips.text
    boxes = aud.get("/audit?from_day=30&from_month=2&from_year=2026")
    assert boxes.status_code == 422 and "From must be a real date" in boxes.text
