"""The Panel's report as a document (rendered once, on SQLite: the data tests cover both
databases): made on the web as PDF and on the command line as HTML, each captured as a
``panel_report`` record whose bytes are the ones handed back; the PDF's text checked
with pypdf (contracts, totals, findings, the checkpoint's root, page numbers, the
contents' page numbers); and its first page rendered to an image and looked at."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader

from factories import Actors
from records_service.auth.service import get_user
from records_service.cli import main
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings
from reports.scenario import Built, build
from web.signin import csrf_of, password_hash, sign_in

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
FORM = {"from": "2025-04-01", "to": "2026-06-30"}
OVERPAID = (
    "GRANT-PR1: paid £11,500.00 against a value of £11,000.00 (award £10,000.00, "
    "variations £1,000.00): overpaid by £500.00"
)


def _browser(client: TestClient, services: Services, username: str) -> TestClient:
    with session_scope(services.engine) as session:
        get_user(session, username).password_hash = password_hash()
    browser = TestClient(client.app, follow_redirects=False)
    assert sign_in(browser, username).status_code == 303
    return browser


def _make_on_the_web(client: TestClient, services: Services) -> str:
    rob = _browser(client, services, "rob")
    page = rob.get("/reports/panel")
    refused = rob.post(
        "/reports/panel", data={**FORM, "to": "2025-03-31", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 422
    assert "The period starts on 2025-04-01, after it ends on 2025-03-31" in refused.text
    assert 'id="from-error"' in refused.text
    made = rob.post("/reports/panel", data={**FORM, "format": "pdf", "csrf_token": csrf_of(page)})
    assert made.status_code == 303, made.text
    record_id = str(made.headers["location"]).removeprefix("/records/")
    shown = rob.get(made.headers["location"]).text
    assert f"captured as record {record_id}" in shown
    return record_id


def _record(client: TestClient, actors: Actors, record_id: str) -> tuple[dict[str, object], bytes]:
    record = client.get(f"/api/records/{record_id}", headers=actors.auditor).json()
    content = client.get(f"/api/records/{record_id}/content", headers=actors.auditor).content
    return record, content


@SQLITE_ONLY
def test_the_report_made_on_the_web_is_a_printable_pdf_kept_as_a_record(
    client: TestClient, actors: Actors, services: Services, settings: Settings
) -> None:
    built = build(client, actors, services)
    record_id = _make_on_the_web(client, services)
    record, pdf = _record(client, actors, record_id)
    assert (record["record_type"], record["title"]) == (
        "panel_report",
        "Panel's report, 2025-04-01 to 2026-06-30",
    )
    entries = client.get(
        "/api/audit/entries", params={"subject": f"record:{record_id}"}, headers=actors.auditor
    ).json()["items"]
    captured = [e for e in entries if e["action"] == "record.capture"]
    assert [(e["actor"], e["details"]["record_type"]) for e in captured] == [
        ("rob", "panel_report")
    ]
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    _check_text(pages, built)
    _check_first_page_looks_right(pdf)
    listed = _browser(client, services, "aud").get("/reports/panel").text
    assert f"/records/{record_id}" in listed and "Make a report" not in listed
    _check_cli(settings, client, actors)


def _check_text(pages: list[str], built: Built) -> None:
    whole = " ".join(" ".join(pages).split())
    for expected in (
        "GRANT-PR1",
        "SVC-PR2",
        "Safe Haven Trust",
        "PCC Community Safety Fund",
        "£61,000.00",  # awarded in the period
        "£11,000.00",  # the grant's value with its variation
        "people supported: 40",
        "Needs assessment on file",
        "lost (2025-07-01 to 2025-09-30), reported by Safe Haven Trust",  # a known gap
        OVERPAID,
        "specification OLD-PR3",  # the disposal
    ):
        assert expected in whole, expected
    assert built.checkpoint.root_hash.hex() in "".join(whole.split())
    assert f"Tree size {built.checkpoint.tree_size}" in whole
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
    # The contents give the page each part starts on.
    for title in ("Open findings by kind", "Disposals carried out", "signed checkpoint"):
        match = re.search(rf"{title}[ .]*(\d+)", pages[0])
        assert match, title
        starts = int(match.group(1))
        assert title in pages[starts - 1] and title not in pages[starts - 2]


def _check_first_page_looks_right(pdf: bytes) -> None:
    page = pdfium.PdfDocument(pdf)[0]
    image: Image.Image = page.render(scale=1).to_pil().convert("L")
    width, height = image.size
    assert (round(width / 10), height) == (60, 842)  # A4 (595.3 by 841.9 points) at 72 dpi

    def share(box: tuple[int, int, int, int], test: Callable[[int], bool]) -> float:
        pixels = image.crop(box).tobytes()  # one byte of grey per pixel
        return sum(1 for p in pixels if test(p)) / len(pixels)

    # Not blank: text and the title band cover a good part of the page.
    assert share((0, 0, width, height), lambda p: p < 200) > 0.08
    # The title band: dark across the top, with light lettering in it.
    band = (60, 60, width - 60, 110)
    assert share(band, lambda p: p < 60) > 0.6
    assert share(band, lambda p: p > 200) > 0.01
    # The page number, centred in the bottom margin; the margin beside it is empty.
    assert (
        share((width // 2 - 40, height - 40, width // 2 + 40, height - 20), lambda p: p < 128)
        > 0.02
    )
    assert share((20, height - 40, width // 2 - 80, height - 20), lambda p: p < 250) == 0


def _cli(settings: Settings, *args: str) -> Result:
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
    }
    return CliRunner().invoke(main, ["report", "panel", *args], env=env, catch_exceptions=False)


def _check_cli(settings: Settings, client: TestClient, actors: Actors) -> None:
    out = settings.data_dir / "panel.html"
    refused = _cli(settings, "--from", FORM["from"], "--to", FORM["to"], "--user", "aud")
    assert refused.exit_code == 1
    assert "may not make the Panel's report" in refused.output
    done = _cli(
        settings,
        "--from",
        FORM["from"],
        "--to",
        FORM["to"],
        "--format",
        "html",
        "--output",
        str(out),
        "--user",
        "rob",
    )
    assert done.exit_code == 0, done.output
    match = re.search(r"captured as record ([0-9a-f]{32}); written to", done.output)
    assert match, done.output
    record, content = _record(client, actors, match.group(1))
    assert record["record_type"] == "panel_report"
    assert content == out.read_bytes()
    html = content.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert '<td class="n">£11,000.00</td>' in html
    assert OVERPAID in html.replace("&#39;", "'")
