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


def _expired_records(
    services: Services, staff: TestClient, files: list[tuple[str, bytes]]
) -> list[str]:
    """Specifications on a contract that ended in 2015, uploaded by ``staff``: their six
    years are long over."""
    open_contract(
        services,
        OLD,
        status="closed",
        start_date="2012-04-01",
        end_date="2015-03-31",
        closed_on="2015-03-31",
    )
    status, page = upload(
        staff, files, contract=OLD, record_type="specification", record_date="2012-01-10"
    )
    assert status == 200, page
    return record_ids(page)


def _expired_record(services: Services, staff: TestClient) -> str:
    [record_id] = _expired_records(services, staff, [("spec.txt", SPEC)])
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
        # A refusal of the decision is shown with the decision, not on the reason box.
        assert re.search(r'class="error-message" id="decision-\d+"', refused.text)
        assert not re.search(r'id="reason-\d+-error"', refused.text)
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


def test_findings_before_any_check_say_none_has_run_and_offer_to_run_one(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob, aud = browser_for("rob"), browser_for("aud")
    open_contract(web_services)  # a contract file the check would find incomplete
    before = rob.get("/retention").text
    assert "No retention check has run yet" in before
    assert "No findings match" not in before
    notice = before[before.index('id="no-check-yet"') :]
    assert re.search(r'<form method="post" action="/retention/run"', notice)
    assert "Run the retention check now" in notice
    reader = aud.get("/retention").text  # auditors only read: told who can run it
    assert "No retention check has run yet" in reader
    assert 'action="/retention/run"' not in reader
    assert "A records manager or an administrator can run it now" in reader
    after = _run_retention(rob)
    assert "No retention check has run yet" not in after and "OPCC-2023-014" in after
    filtered = rob.get("/retention?kind=fixity_failure").text
    assert "No findings match" in filtered and "No retention check" not in filtered


def _two_expired_records(services: Services, staff: TestClient) -> list[str]:
    return _expired_records(
        services, staff, [("spec.txt", SPEC), ("tender.txt", b"Invitation to tender.\n")]
    )


def test_approving_shows_what_goes_first_and_approves_several_each_audited(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob, rhi = browser_for("rob"), browser_for("rhi")
    record_ids_ = _two_expired_records(web_services, rob)
    _run_retention(rob)
    listing = rhi.get("/retention/dispositions").text
    ids = re.findall(r'name="id" value="(\d+)" form="approve-many"', listing)
    assert len(ids) == 2 and "Approve the ticked disposals" in listing
    every = f"/retention/dispositions/confirm?id={ids[0]}&amp;id={ids[1]}"
    assert f'<a href="{every}">Approve all 2 you can decide on this page</a>' in listing
    # The proposer is told why, with no way to approve.
    own = rob.get("/retention/dispositions").text
    assert "You proposed this disposal" in own and "/confirm?id=" not in own
    mine = rob.get("/retention/dispositions/confirm", params={"id": ids})
    assert "You proposed it" in mine.text and "/retention/dispositions/approve" not in mine.text
    # The confirmation lists each record and file; nothing has happened yet.
    confirm = rhi.get("/retention/dispositions/confirm", params={"id": ids})
    assert "spec.txt" in confirm.text and "tender.txt" in confirm.text
    assert "Destroy 2 records" in confirm.text and "button-warning" in confirm.text
    assert "Destroyed on" not in rhi.get(f"/records/{record_ids_[0]}").text
    blank = rhi.post(
        "/retention/dispositions/approve",
        data={"id": ids, "reason": "", "csrf_token": csrf_of(confirm)},
    )
    assert blank.status_code == 422 and 'id="reason-error"' in blank.text
    # A hold placed after the page was shown still stops each disposal.
    holds = rob.get("/retention/holds")
    hold = {"contract": OLD, "reference": "FOI-1", "reason": "FOI request"}
    assert (
        rob.post("/retention/holds", data=hold | {"csrf_token": csrf_of(holds)}).status_code == 303
    )
    held = rhi.post(
        "/retention/dispositions/approve",
        data={"id": ids, "reason": "Past retention", "csrf_token": csrf_of(confirm)},
    )
    after_hold = rhi.get(held.headers["location"]).text
    assert after_hold.count("not approved. This record is under hold (FOI-1)") == 2
    [hold_id] = re.findall(r"/retention/holds/(\d+)/release", rob.get("/retention/holds").text)
    release = {"reason": "Answered", "csrf_token": csrf_of(holds)}
    assert rob.post(f"/retention/holds/{hold_id}/release", data=release).status_code == 303
    done = rhi.post(
        "/retention/dispositions/approve",
        data={
            "id": ids,
            "reason": "Six years after the contract ended",
            "csrf_token": csrf_of(confirm),
        },
    )
    assert done.status_code == 303
    assert "2 disposals approved and carried out" in rhi.get(done.headers["location"]).text
    for record_id in record_ids_:
        assert "Destroyed on" in rhi.get(f"/records/{record_id}").text
    audit = rhi.get("/audit").text
    for action in ("disposition.approve", "disposition.execute"):  # one entry per disposal
        assert audit.count(f'<span class="hint">{action}</span>') == 2


def test_hold_form_shows_every_error_at_once_each_on_its_own_field(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    rob = browser_for("rob")
    page = rob.get("/retention/holds")
    blank = {"contract": "", "record_id": "", "reference": "", "reason": ""}
    refused = rob.post("/retention/holds", data=blank | {"csrf_token": csrf_of(page)})
    assert refused.status_code == 422
    for field in ("contract", "reference", "reason"):
        assert f'id="{field}-error"' in refused.text, field
    # A crafted post naming a record and a contract is refused, and nothing is held.
    record_id = _expired_record(web_services, rob)
    both = blank | {"contract": OLD, "record_id": record_id, "reference": "FOI-9"}
    refused = rob.post("/retention/holds", data=both | {"csrf_token": csrf_of(page)})
    assert "not both" in refused.text and 'id="reason-error"' in refused.text
    both |= {"reason": "FOI request"}
    refused = rob.post("/retention/holds", data=both | {"csrf_token": csrf_of(page)})
    assert refused.status_code == 422 and "not both" in refused.text
    assert "/release" not in rob.get("/retention/holds").text


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
