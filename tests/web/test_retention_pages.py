"""Retention pages: findings and their CSV, a disposition approved only by a second
records manager, and holds placed and released."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from records_service.runtime.services import Services
from web.signin import csrf_of
from web.test_upload_and_records import SPEC, open_contract, record_ids, upload

OLD = "OPCC-2014-002"


def _expired_record(services: Services, staff: TestClient) -> str:
    """A specification on a contract that ended in 2015: its six years are long over."""
    open_contract(
        services,
        OLD,
        status="closed",
        start_date="2012-04-01",
        end_date="2015-03-31",
        closed_on="2015-03-31",
    )
    [record_id] = record_ids(
        upload(
            staff,
            [("spec.txt", SPEC)],
            contract=OLD,
            record_type="specification",
            record_date="2012-01-10",
        )[1]
    )
    return record_id


def _run_retention(client: TestClient) -> str:
    page = client.get("/retention")
    response = client.post("/retention/run", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303
    text: str = client.get("/retention").text
    return text


def _decide(client: TestClient, decision: str, reason: str) -> TestClient | str:
    page = client.get("/retention/dispositions")
    [disposition_id] = re.findall(r"/retention/dispositions/(\d+)/decide", page.text)
    response = client.post(
        f"/retention/dispositions/{disposition_id}/decide",
        data={"decision": decision, "reason": reason, "csrf_token": csrf_of(page)},
    )
    if response.status_code != 303:
        text: str = response.text
        return text
    after: str = client.get(response.headers["location"]).text
    return after


def test_disposition_needs_a_second_records_manager(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob, rhi = browser_for("rob"), browser_for("rhi")
    record_id = _expired_record(web_services, rob)
    findings = _run_retention(rob)
    assert "Retention check finished" in findings and "1 disposal proposed" in findings
    offered = rob.get("/retention/dispositions").text
    assert "/decide" not in offered and "You proposed this disposal" in offered
    disposition_id = re.findall(
        r"/retention/dispositions/(\d+)/decide", rhi.get("/retention/dispositions").text
    )[0]
    for decision in ("approve", "reject"):
        refused = rob.post(
            f"/retention/dispositions/{disposition_id}/decide",
            data={
                "decision": decision,
                "reason": "Mine to decide",
                "csrf_token": csrf_of(rob.get("/retention/dispositions")),
            },
        )
        assert refused.status_code == 422 and "only a second person may" in refused.text
        assert re.search(r'id="reason-\d+-error"', refused.text)
    no_reason = _decide(rhi, "approve", "")
    assert "Give a reason" in str(no_reason)
    done = _decide(rhi, "approve", "Checked: six years after the contract ended")
    assert "approved and executed" in str(done)
    record = rhi.get(f"/records/{record_id}").text
    assert "Destroyed on" in record and "approved by rhi" in record
    assert "/download" not in record and "cannot be downloaded" in record  # never a 410 link
    assert rhi.get(f"/records/{record_id}/versions/1/download").status_code == 410


def test_hold_blocks_disposal_until_released(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob, rhi = browser_for("rob"), browser_for("rhi")
    record_id = _expired_record(web_services, rob)
    _run_retention(rob)
    page = rob.get(f"/retention/holds?contract={OLD}")
    assert f'value="{OLD}"' in page.text  # the form is prefilled
    missing = rob.post(
        "/retention/holds",
        data={"contract": OLD, "reference": "", "reason": "", "csrf_token": csrf_of(page)},
    )
    assert missing.status_code == 422 and 'id="reference-error"' in missing.text
    placed = rob.post(
        "/retention/holds",
        data={
            "contract": OLD,
            "record_id": "",
            "reference": "FOI-2026-0142",
            "reason": "FOI request about this contract",
            "csrf_token": csrf_of(page),
        },
    )
    assert placed.status_code == 303
    assert "FOI-2026-0142" in rob.get(f"/contracts/{OLD}").text
    assert "FOI-2026-0142" in rob.get(f"/records/{record_id}").text
    refused = _decide(rhi, "approve", "Past retention")
    assert "under hold" in str(refused)
    holds = rob.get("/retention/holds")
    [hold_id] = re.findall(r"/retention/holds/(\d+)/release", holds.text)
    released = rob.post(
        f"/retention/holds/{hold_id}/release",
        data={"reason": "FOI request answered", "csrf_token": csrf_of(holds)},
    )
    assert released.status_code == 303
    assert "Released holds" in rob.get("/retention/holds?active=released").text
    assert "approved and executed" in str(_decide(rhi, "approve", "Hold released; past retention"))


def test_findings_list_filters_and_csv(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob, aud = browser_for("rob"), browser_for("aud")
    open_contract(web_services)  # active since 2023, nothing on file
    _run_retention(rob)
    missing = aud.get("/retention?kind=missing_record&contract=OPCC-2023-014").text
    assert "Missing records" in missing and "OPCC-2023-014" in missing
    csv = aud.get("/retention/findings.csv?kind=overdue_return")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("kind,subject")
    assert len(lines) > 1 and all(line.startswith("overdue_return") for line in lines[1:])
    dashboard = aud.get("/").text
    assert "Open findings" in dashboard and "/retention?kind=overdue_return" in dashboard
    contract = aud.get("/contracts/OPCC-2023-014").text
    assert "Open findings" in contract
    findings = contract[contract.index('id="findings-heading"') :]
    assert (
        "Needs assessment missing" in findings
        and "quarterly monitoring returns overdue" in findings
    )
    assert "Upload this" not in findings  # auditors never change anything
    assert "Upload this" in rob.get("/contracts/OPCC-2023-014").text
    assert "Run retention check" not in aud.get("/retention").text  # auditors only read


def test_a_hold_is_placed_by_picking_a_contract_or_record_by_name(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob = browser_for("rob")
    record_id = _expired_record(web_services, rob)
    page = rob.get("/retention/holds")
    assert "Record id" not in page.text
    assert f'<option value="{OLD}">{OLD} — Domestic abuse helpline</option>' in page.text
    form = {"reference": "FOI-1", "reason": "FOI request", "csrf_token": csrf_of(page)}
    neither = rob.post("/retention/holds", data=form)
    assert neither.status_code == 422
    assert "Choose the contract to hold by its reference or title, or pick records" in neither.text
    assert 'id="contract-error"' in neither.text
    by_title = rob.post("/retention/holds", data=form | {"contract": "domestic abuse HELPLINE"})
    assert by_title.status_code == 303
    assert f'Every record on <a href="/contracts/{OLD}">' in rob.get("/retention/holds").text
    from_record = rob.get(f"/retention/holds?record_id={record_id}").text
    assert "Record to hold:</strong> Spec" in from_record
    unknown = rob.post("/retention/holds", data=form | {"contract": "No such thing"})
    assert unknown.status_code == 422 and "No contract has the reference or title" in unknown.text
