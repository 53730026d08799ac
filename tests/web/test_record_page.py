"""The record page in plain words: kinds of file by name, which version is shown."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from pypdf import PdfWriter

from records_service.runtime.services import Services
from web.signin import upload_action
from web.test_upload_and_records import NEEDS, record_ids, upload


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_earlier_version_says_so_and_file_kinds_are_words(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    [record_id] = record_ids(upload(staff, [("needs.txt", NEEDS)], contract="")[1])
    form = staff.get(f"/records/{record_id}/new-version")
    added = staff.post(
        upload_action(form),
        files={"file": ("needs-signed.pdf", _pdf(), "application/pdf")},
    )
    assert added.status_code == 303, added.text[:300]
    current = staff.get(f"/records/{record_id}").text
    assert "You are viewing version" not in current
    assert "Download version 2</a>" in current
    assert re.search(r"needs-signed\.pdf<br><span class=\"hint\">PDF", current)
    assert re.search(r"needs\.txt<br><span class=\"hint\">Text file", current)
    assert "text/plain" not in current and "application/pdf" not in current
    earlier = staff.get(f"/records/{record_id}?version=1").text
    assert "You are viewing version 1 of 2." in earlier
    assert f'href="/records/{record_id}/versions/1/download">Download version 1 of 2' in earlier
    assert f'href="/records/{record_id}">View the current version (version 2)' in earlier
