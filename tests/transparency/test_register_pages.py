"""The register's API pages are read by the database: the same items and order as the
whole export, filtered by kind and state, counted, and leaving out what the caller may
not see; on SQLite and PostgreSQL, with the fixed clock at 2026-06-15."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from factories import Actors, capture
from finance.money import post
from records_service.auth.service import get_user
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.transparency.models import ItemKind
from records_service.transparency.service import register_counts_for
from retention.casefiles import add_contract

SPI = "significant-public-interest"
URL = "/api/transparency/register"


def _awarded(client: TestClient, actors: Actors, reference: str, day: str, kind: str) -> None:
    add_contract(client, actors.staff, reference, awarded_value_pence=4_500_000, status="active")
    award = {"awarded_on": day, "kind": kind}
    post(client, actors.staff, f"/api/contracts/{reference}/award", award)


def _decision(client: TestClient, headers: dict[str, str], day: str, **fields: Any) -> str:
    response = capture(
        client, headers, record_type="decision_record", record_date=day, tags=SPI, **fields
    )
    assert response.status_code == 201, response.text
    return f"decision:{response.json()['id']}"


def _build(client: TestClient, actors: Actors) -> tuple[list[str], str]:
    """The register in its order (due day, then key), and the key of a sensitive
    decision that staff may not see (captured by someone else)."""
    for reference, day, kind in (
        ("REG-C", "2026-03-01", "contract"),
        ("REG-A1", "2026-04-01", "contract"),
        ("REG-A-2", "2026-04-01", "contract"),  # "-" sorts before "1", as in Python
        ("REG-G", "2026-05-10", "crime_and_disorder_grant"),
        ("REG-B", "2026-06-01", "contract"),
    ):
        _awarded(client, actors, reference, day, kind)
    sensitive = _decision(
        client, actors.staff2, "2026-04-15", contract="REG-A1", classification="OFFICIAL-SENSITIVE"
    )
    decision = _decision(client, actors.staff, "2026-05-20", contract="REG-B")
    published = {"item": "contract:REG-C", "published_on": "2026-03-20", "location": "https://x"}
    post(client, actors.staff, "/api/transparency/publications", published)
    order = [
        "contract:REG-C",
        "contract:REG-A-2",
        "contract:REG-A1",
        sensitive,
        "grant:REG-G",
        decision,
        "contract:REG-B",
    ]
    return order, sensitive


def _page(client: TestClient, headers: dict[str, str], **params: Any) -> tuple[list[str], int]:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["item"] for item in body["items"]], body["total"]


@contextmanager
def _statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(services.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(services.engine, "before_cursor_execute", note)


def test_pages_are_the_register_in_order_read_by_the_database(
    client: TestClient, actors: Actors, services: Services
) -> None:
    order, sensitive = _build(client, actors)
    staff_sees = [key for key in order if key != sensitive]
    pages = [_page(client, actors.staff, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [keys for keys, _ in pages] == [staff_sees[0:2], staff_sees[2:4], staff_sees[4:6], []]
    assert {total for _, total in pages} == {6}
    export = client.get(f"{URL}/export", params={"format": "json"}, headers=actors.staff)
    assert [item["item"] for item in export.json()["items"]] == staff_sees
    assert _page(client, actors.reviewer, page_size=100) == (order, 7)
    assert _page(client, actors.staff, kind="contract", state="overdue") == (
        ["contract:REG-A-2", "contract:REG-A1"],
        2,
    )
    assert _page(client, actors.staff, state="due") == ([order[5], "contract:REG-B"], 2)
    assert _page(client, actors.reviewer, kind="decision", state="overdue") == ([sensitive], 1)
    assert _page(client, actors.staff, kind="grant", page=2, page_size=1) == ([], 1)
    with _statements(services) as seen:
        assert _page(client, actors.staff, page=2, page_size=2)[0] == staff_sees[2:4]
    paged = [s for s in seen if "UNION ALL" in s and "LIMIT" in s]
    assert len(paged) == 1, seen


def test_counts_by_state_are_read_by_the_database_for_what_the_reader_may_see(
    client: TestClient, actors: Actors, services: Services
) -> None:
    # As at 2026-06-15, due within 30 days: REG-C published; REG-A1, REG-A-2 and the
    # sensitive decision (15 April) and the grant (10 May) overdue; the other
    # decision (20 May) and REG-B (1 June) due. Staff may not see the sensitive one.
    _build(client, actors)
    rules = services.schedule.transparency
    day = date(2026, 6, 15)
    with session_scope(services.engine) as session, _statements(services) as seen:
        staff, reviewer = get_user(session, "sam"), get_user(session, "rita")
        assert register_counts_for(session, rules, day, staff) == {
            "overdue": 3,
            "due": 2,
            "published": 1,
        }
        assert register_counts_for(session, rules, day, reviewer)["overdue"] == 4
        assert register_counts_for(session, rules, day, reviewer, kind=ItemKind.DECISION) == {
            "overdue": 1,
            "due": 1,
            "published": 0,
        }
    counted = [s for s in seen if "UNION ALL" in s and "GROUP BY" in s]
    assert len(counted) == 3, seen
