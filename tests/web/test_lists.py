"""The lists at a glance, in-process on SQLite and PostgreSQL: contracts with their value,
funding and counts of missing and overdue items (sortable, gaps only in one click),
sortable records with removable filter chips, and changes to many records at once,
each audited per record.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from factories import FixedClock, make_settings
from records_service.app import create_app
from records_service.audit.models import AuditEntry
from records_service.auth.service import get_user
from records_service.contracts.schemas import ContractCreate
from records_service.contracts.service import contract_id, create_contract
from records_service.db import session_scope
from records_service.records.capture import capture_record
from records_service.records.models import Record, RecordTag
from records_service.records.schemas import RecordMetadata
from records_service.retention.models import Hold
from records_service.runtime.services import Services
from web.signin import add_person, csrf_of, sign_in

TODAY = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
CONTRACTS = (
    # reference, title, value (pence), funding stream, start date
    ("OPCC-2024-001", "Helpline", 4_500_000, "MoJ Victims Grant", "2024-01-01"),
    ("OPCC-2025-002", "Advocacy", 900_000, "Core grant", "2026-04-01"),
    ("OPCC-2023-003", "Refuge", 12_000_000, "MoJ Victims Grant", "2023-04-01"),
)


@dataclass
class Lists:
    """An app with three contracts and a few records, and signed-in clients."""

    services: Services
    staff: TestClient
    manager: TestClient
    ids: dict[str, str]


def _contracts(services: Services) -> None:
    with session_scope(services.engine) as session:
        rob = get_user(session, "rob")
        for reference, title, value, stream, start in CONTRACTS:
            data = ContractCreate.model_validate(
                {
                    "reference": reference,
                    "title": title,
                    "awarded_value_pence": value,
                    "funding_stream": stream,
                    "status": "active",
                    "start_date": start,
                    "end_date": "2027-03-31",
                }
            )
            create_contract(session, data=data, actor=rob, clock=services.clock)


def _capture(services: Services, title: str, kind: str, contract: str, day: str) -> str:
    with session_scope(services.engine) as session:
        rob = get_user(session, "rob")
    meta = RecordMetadata(title=title, record_type=kind, contract=contract, record_date=day)
    record, _ = capture_record(
        services.capture_context(),
        meta=meta,
        source=io.BytesIO(title.encode()),
        filename=f"{title}.txt",
        actor=rob,
    )
    return record.id


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory, module_db_url: str) -> Iterator[Lists]:
    """The seeded app on each database, shared by the module's tests (the bulk changes
    come last, after the refused ones that change nothing)."""
    settings = make_settings(tmp_path_factory.mktemp("lists"), module_db_url)
    app = create_app(settings, clock=FixedClock(TODAY), background=False)
    with TestClient(app, follow_redirects=False) as anyone:
        services: Services = app.state.services
        add_person(services, "sam", "staff")
        add_person(services, "rob", "records_manager")
        _contracts(services)
        ids = {
            "needs": _capture(
                services, "Needs 2023", "needs_assessment", "OPCC-2023-003", "2023-01-20"
            ),
            "spec": _capture(services, "Spec 2023", "specification", "OPCC-2023-003", "2023-02-01"),
            "minutes": _capture(
                services, "Board minutes", "minutes", "OPCC-2024-001", "2024-05-01"
            ),
        }
        clients = []
        for name in ("sam", "rob"):
            client = TestClient(app, follow_redirects=False)
            assert sign_in(client, name).status_code == 303
            clients.append(client)
        yield Lists(services, clients[0], clients[1], ids)
        anyone.close()


def _column(page: str, index: int) -> list[str]:
    """The text of one column of the page's first table, row by row."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [re.sub(r"<[^>]+>", "", row[index]).strip() for row in cells]


def test_contracts_show_value_funding_and_gaps_sorted_and_narrowed(lists: Lists) -> None:
    page = lists.staff.get("/contracts").text
    assert _column(page, 0) == ["OPCC-2023-003", "OPCC-2024-001", "OPCC-2025-002"]
    assert _column(page, 2) == ["£120,000.00", "£45,000.00", "£9,000.00"]
    assert _column(page, 3) == ["MoJ Victims Grant", "MoJ Victims Grant", "Core grant"]
    # The refuge has its needs assessment and specification, the helpline neither, and
    # the helpline's returns are overdue for every quarter from Q1 2024 to Q1 2026.
    missing = dict(zip(_column(page, 0), _column(page, 5), strict=True))
    overdue = dict(zip(_column(page, 0), _column(page, 6), strict=True))
    contract_page = lists.staff.get("/contracts/OPCC-2024-001").text
    assert contract_page.count("No return for") == int(overdue["OPCC-2024-001"]) == 9
    assert int(missing["OPCC-2023-003"]) < int(missing["OPCC-2024-001"])
    assert overdue["OPCC-2025-002"] == "0"

    by_missing = lists.staff.get("/contracts?sort=-missing").text
    assert _column(by_missing, 0)[0] == "OPCC-2024-001"
    assert 'aria-sort="descending"' in by_missing
    by_value = lists.staff.get("/contracts?sort=value").text
    assert _column(by_value, 0) == ["OPCC-2025-002", "OPCC-2024-001", "OPCC-2023-003"]

    assert 'href="/contracts?gaps=1"' in page  # one click
    gaps = lists.staff.get("/contracts?gaps=1&funding_stream=Core+grant").text
    assert _column(gaps, 0) == ["OPCC-2025-002"]
    assert re.search(r'class="chip" href="/contracts\?funding_stream=Core\+grant"', gaps)
    assert re.search(r'class="chip" href="/contracts\?gaps=1"', gaps)


def test_a_list_sorted_by_an_unknown_column_is_a_clear_refusal(lists: Lists) -> None:
    for path in ("/contracts?sort=secret", "/records?sort=-password", "/records?sort=--title"):
        response = lists.staff.get(path)
        assert response.status_code == 422, path
        assert "sort by one of" in response.text


def test_records_sort_by_each_column_and_filters_show_as_chips(lists: Lists) -> None:
    newest = _column(lists.staff.get("/records").text, 1)
    assert newest == ["Board minutes", "Spec 2023", "Needs 2023"]
    by_title = lists.staff.get("/records?sort=title").text
    assert _column(by_title, 1) == ["Board minutes", "Needs 2023", "Spec 2023"]
    by_contract = lists.staff.get("/records?sort=-contract").text
    assert _column(by_contract, 3)[0] == "OPCC-2024-001"
    filtered = lists.staff.get(
        "/records?contract=OPCC-2023-003&date_from_day=1&date_from_month=2&date_from_year=2023"
        "&sort=title"
    ).text
    assert _column(filtered, 1) == ["Spec 2023"]
    chips = dict(
        re.findall(r'<a class="chip" href="([^"]+)">(.*?)<span', filtered)[i][::-1]
        for i in range(2)
    )
    assert set(chips) == {"Contract: OPCC-2023-003", "Dated from: 1 February 2023"}
    without_date = chips["Dated from: 1 February 2023"].replace("&amp;", "&")
    assert without_date == "/records?contract=OPCC-2023-003&sort=title"
    assert _column(lists.staff.get(without_date).text, 1) == ["Needs 2023", "Spec 2023"]


def test_date_boxes_say_which_box_is_wrong(lists: Lists) -> None:
    page = lists.staff.get("/records?date_to_day=31&date_to_month=2&date_to_year=2024")
    assert page.status_code == 422
    assert "Dated to must be a real date" in page.text
    assert re.search(r'id="date_to_day"[^>]*aria-invalid="true"', page.text)
    assert not re.search(r'id="date_to_month"[^>]*aria-invalid', page.text)
    missing = lists.staff.get("/records?date_to_day=3&date_to_year=2024").text
    assert "Dated to must include a month" in missing


def test_findings_are_grouped_by_contract_in_words_with_upload_links(lists: Lists) -> None:
    page = lists.manager.get("/retention")
    ran = lists.manager.post("/retention/run", data={"csrf_token": csrf_of(page)})
    assert ran.status_code == 303
    by_count = lists.manager.get("/retention?sort=-count").text
    # The refuge started earlier: more overdue returns, though it has its first two records.
    assert [ref[:13] for ref in _column(by_count, 0)] == [
        "OPCC-2023-003", "OPCC-2024-001", "OPCC-2025-002",
    ]  # fmt: skip
    assert _column(by_count, 2) == ["15", "14", "4"]
    helpline = _column(by_count, 1)[1]
    assert helpline.startswith("Needs assessment missing")
    assert "Needs assessment missing" in helpline
    assert "9 quarterly monitoring returns overdue (Q1 2024 to Q1 2026)" in helpline
    assert "needs_assessment" not in helpline and "missing needs" not in helpline
    assert not re.search(r"[0-9a-f]{32}", "".join(_column(by_count, 1)))
    upload = "/upload?contract=OPCC-2024-001&amp;record_type=needs_assessment"
    assert f'href="{upload}"' in by_count
    form = lists.manager.get(upload.replace("&amp;", "&")).text
    assert re.search(r'<option value="needs_assessment"\s+selected>', form)
    assert re.search(r'id="contract"[^>]*value="OPCC-2024-001"', form, re.S)
    assert _column(lists.manager.get("/retention?sort=count").text, 2) == ["4", "14", "15"]
    assert "First seen" in by_count and "15 June 2026" in by_count


def _bulk(client: TestClient, ids: list[str], **fields: str) -> tuple[int, str]:
    page = client.get("/records?sort=title")
    form = {"csrf_token": csrf_of(page), "record_ids": ids, "back": "sort=title", **fields}
    response = client.post("/records/bulk", data=form)
    if response.status_code == 303:
        return 303, client.get(response.headers["location"]).text
    return response.status_code, response.text


def _audited(services: Services, action: str) -> list[str]:
    with session_scope(services.engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action == action))
        return sorted(row.subject for row in rows)


def test_a_refused_bulk_change_keeps_the_ticks_and_changes_nothing(lists: Lists) -> None:
    two = [lists.ids["minutes"], lists.ids["spec"]]
    status, page = _bulk(
        lists.manager, two, action="move", bulk_contract="NO-SUCH", bulk_reason="misfiled"
    )
    assert status == 404 or status == 422
    assert "NO-SUCH" in page
    for record_id in two:
        assert re.search(rf'value="{record_id}" id="pick-{record_id}" checked', page)
    assert 'value="misfiled"' not in page or "misfiled" in page  # the reason is kept
    assert "misfiled</textarea>" in page
    status, page = _bulk(lists.manager, two, action="tag", bulk_tags="x", bulk_reason="")
    assert status == 422 and "Say why you are making this change" in page
    status, page = _bulk(lists.manager, [], action="tag", bulk_tags="x", bulk_reason="why not")
    assert status == 422 and "Tick the records to change" in page
    # Staff may tag and move, but not place holds.
    status, _ = _bulk(lists.staff, two, action="hold", bulk_reference="X-1", bulk_reason="why")
    assert status == 403
    assert _audited(lists.services, "record.update") == []
    assert _audited(lists.services, "hold.place") == []


def test_ticked_records_get_tags_a_contract_or_a_hold_each_audited(lists: Lists) -> None:
    two = [lists.ids["needs"], lists.ids["spec"]]
    status, page = _bulk(
        lists.manager, two, action="tag", bulk_tags="Panel, audit-2026", bulk_reason="panel review"
    )
    assert status == 303 and "Tags added to 2 records." in page
    with session_scope(lists.services.engine) as session:
        tags = session.exec(select(RecordTag.tag).where(col(RecordTag.record_id).in_(two)))
        assert sorted(tags) == ["audit-2026", "audit-2026", "panel", "panel"]
    assert _audited(lists.services, "record.update") == sorted(f"record:{i}" for i in two)

    status, page = _bulk(
        lists.manager, two, action="move", bulk_contract="OPCC-2024-001", bulk_reason="misfiled"
    )
    assert status == 303 and "Moved to OPCC-2024-001: 2 records." in page
    status, page = _bulk(
        lists.manager, two, action="hold", bulk_reference="FOI-2026-0142", bulk_reason="FOI"
    )
    assert status == 303 and "Hold FOI-2026-0142 placed on 2 records." in page
    assert _audited(lists.services, "hold.place") == sorted(f"record:{i}" for i in two)
    with session_scope(lists.services.engine) as session:
        held = session.exec(select(Hold.record_id).where(Hold.reference == "FOI-2026-0142"))
        assert sorted(str(record_id) for record_id in held) == sorted(two)
        moved = session.exec(select(Record).where(col(Record.id).in_(two)))
        assert {r.contract_id for r in moved} == {contract_id(session, "OPCC-2024-001")}
