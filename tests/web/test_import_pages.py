"""The import pages: records managers see each batch (who ran it, when, counts), its
files with their records and its report; the record page shows where each version
came from and where its bytes were found again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from imports.legacy import CONTRACT, HELPLINE, MAPPING, legacy_tree, run_import
from records_service.auth.service import get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import create_contract
from records_service.db import session_scope
from records_service.imports.models import ImportBatch, ImportFile
from records_service.runtime.services import Services
from records_service.settings import Settings


def _imported(services: Services, settings: Settings, root: Path) -> ImportBatch:
    with session_scope(services.engine) as session:
        contract = ContractCreate(
            reference=CONTRACT,
            title="Helpline",
            provider="Safe Haven Trust",
            funding_stream="MoJ Victims Grant",
            awarded_value_pence=100,
            start_date="2016-04-01",
            end_date="2019-03-31",
            status="active",
        )
        create_contract(
            session, data=contract, actor=get_user(session, "rob"), clock=services.clock
        )
    legacy_tree(root / "Shared drive")
    (root / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    args = [str(root / "Shared drive"), "--map", str(root / "mapping.toml"), "--user", "rob"]
    assert run_import(settings, *args).exit_code == 0
    with Session(services.engine) as session:
        return session.exec(select(ImportBatch)).one()


def test_records_managers_see_batches_their_files_reports_and_provenance(
    web_services: Services,
    web_settings: Settings,
    browser_for: Callable[[str], TestClient],
    tmp_path: Path,
) -> None:
    batch = _imported(web_services, web_settings, tmp_path)
    manager = browser_for("rhi")
    listing = manager.get("/imports")
    assert listing.status_code == 200
    assert f'href="/imports/{batch.id}"' in listing.text and ">rob<" in listing.text
    page = manager.get(f"/imports/{batch.id}?outcome=captured")
    assert page.status_code == 200
    assert "4 files captured" in page.text and "Helpline monitoring return Q2 2016" in page.text
    assert "holiday.txt" not in page.text  # unmatched, not shown under captured
    everything = manager.get(f"/imports/{batch.id}")
    assert "no rule of the mapping matches its path" in everything.text
    lines = list(csv.DictReader(io.StringIO(manager.get(f"/imports/{batch.id}/report.csv").text)))
    assert len(lines) == 8 and {line["outcome"] for line in lines} >= {"captured", "duplicate"}
    report = manager.get(f"/imports/{batch.id}/report.json").json()
    assert report["counts"]["duplicate"] == 1 and len(report["files"]) == 8

    with Session(web_services.engine) as session:
        copy = session.exec(
            select(ImportFile).where(ImportFile.path == f"{HELPLINE}/Monitoring/Q2 return.pdf")
        ).one()
    record = browser_for("sam").get(f"/records/{copy.record_id}")
    assert record.status_code == 200
    assert "Where it came from" in record.text
    assert "Monitoring/Q2 return (copy).pdf" in record.text  # captured from it
    assert "Monitoring/Q2 return.pdf" in record.text and "Duplicate of version 1" in record.text
    assert browser_for("sam").get("/imports").status_code == 403
