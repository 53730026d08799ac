"""A scanned PDF and a photographed page captured through the API are stored unchanged,
their text is recognised by OCR in the background, marked as such, and found by search;
with ``RECORDS_EXTRACTION__OCR=off`` they are captured but give no text."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.testclient import TestClient

from factories import Actors, FixedClock, capture, create_contract, make_actors, make_settings
from records_service.app import create_app
from records_service.runtime.services import Services
from records_service.settings import ExtractionSettings
from support.scans import require_tesseract, scan_bytes

SCAN_LINES = ["Helpline monitoring return", "Kestrel House referrals 1203"]


def _search_ids(client: TestClient, headers: dict[str, str], q: str) -> list[str]:
    response = client.get("/api/search", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return [hit["record_id"] for hit in response.json()["hits"]]


def test_scans_are_recognised_marked_and_found(
    client: TestClient, actors: Actors, services: Services
) -> None:
    require_tesseract()
    create_contract(client, actors.staff)
    pdf = scan_bytes([SCAN_LINES], "PDF")
    png = scan_bytes([["Quarterly return photographed", "Ospreys outreach"]], "PNG")
    ids = {}
    for name, content in (("return.pdf", pdf), ("photo.png", png)):
        created = capture(client, actors.staff, content=content, filename=name)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]

    services.run_background_once()

    record = client.get(f"/api/records/{ids['return.pdf']}", headers=actors.staff).json()
    version = record["versions"][0]
    assert (version["media_type"], version["text_status"]) == ("application/pdf", "extracted")
    assert version["text_ocr"] is True
    photo = client.get(f"/api/records/{ids['photo.png']}", headers=actors.staff).json()
    assert photo["versions"][0]["media_type"] == "image/png"
    assert photo["versions"][0]["text_ocr"] is True
    assert _search_ids(client, actors.staff, "kestrel") == [ids["return.pdf"]]
    assert _search_ids(client, actors.staff, "ospreys") == [ids["photo.png"]]
    # The stored original is the scan as uploaded, not a copy with a text layer.
    download = client.get(f"/api/records/{ids['return.pdf']}/content", headers=actors.staff)
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(pdf).digest()


def test_with_ocr_off_a_scan_is_kept_without_text(
    tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    # The settings do not depend on the database: SQLite only.
    settings = make_settings(tmp_path, sqlite_url, extraction=ExtractionSettings(ocr="off"))
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        _ocr_off(client, make_actors(services), services)


def _ocr_off(client: TestClient, actors: Actors, services: Services) -> None:
    create_contract(client, actors.staff)
    created = capture(
        client, actors.staff, content=scan_bytes([SCAN_LINES], "PDF"), filename="return.pdf"
    )
    services.run_background_once()
    version = client.get(f"/api/records/{created.json()['id']}", headers=actors.staff).json()
    assert version["versions"][0]["text_status"] == "empty"
    assert version["versions"][0]["text_ocr"] is False
    assert _search_ids(client, actors.staff, "kestrel") == []
