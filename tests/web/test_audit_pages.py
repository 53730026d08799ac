"""The audit page: entries with filters, the latest checkpoint, and verification."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.audit.writer import prepare_audit, writer_for
from records_service.runtime.services import Services
from web.signin import csrf_of
from web.test_upload_and_records import NEEDS, record_ids, upload


def test_entries_filters_checkpoint_and_verify(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    sam, aud = browser_for("sam"), browser_for("aud")
    [record_id] = record_ids(upload(sam, [("needs.txt", NEEDS)], contract="")[1])
    page = aud.get("/audit?action=record.capture").text
    assert f"record:{record_id}" in page and "1 entry" in page
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
