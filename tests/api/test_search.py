"""``GET /api/search`` through the real app: captured documents are found by their text,
old versions only on request, filters and facets count only what the caller may see,
bad queries get a 400, and every search is audited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import col, select

from factories import Actors, FixedClock, capture, create_contract
from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.records.models import IndexTask
from records_service.runtime.services import Services

FIXTURES = Path(__file__).parent.parent / "fixtures"
# The main behaviours run on SQLite and PostgreSQL; the rest on SQLite only, to keep
# the suite fast (the index is the same; only the queue's SQL differs).
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def search(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def hit_ids(body: dict[str, Any]) -> list[str]:
    return [hit["record_id"] for hit in body["hits"]]


def search_entries(services: Services) -> list[AuditEntry]:
    with session_scope(services.engine) as session:
        statement = (
            select(AuditEntry)
            .where(AuditEntry.action == "search.query")
            .order_by(col(AuditEntry.idx))
        )
        return list(session.exec(statement))


def _capture(client: TestClient, headers: dict[str, str], text: str, **form: Any) -> str:
    response = capture(client, headers, content=text.encode(), filename="doc.txt", **form)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _budget_and_secret(
    client: TestClient, headers: dict[str, str], secret_text: str, **secret: Any
) -> tuple[str, str]:
    """Two contracts; a budget record on the first, and ``secret_text`` as a 2021
    correspondence record on ``OPCC-SECRET-9``. Returns their ids."""
    create_contract(client, headers)
    create_contract(client, headers, reference="OPCC-SECRET-9")
    open_id = _capture(client, headers, "The helpline budget was agreed.", title="Budget")
    secret_id = _capture(
        client,
        headers,
        secret_text,
        contract="OPCC-SECRET-9",
        record_type="correspondence",
        record_date="2021-06-01",
        **secret,
    )
    return open_id, secret_id


def test_a_phrase_inside_a_pdf_docx_or_email_finds_that_record(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    ids = {}
    for name in ("victim-services.pdf", "commissioning-plan.docx", "helpline-referral.eml"):
        response = capture(
            client,
            actors.staff,
            content=(FIXTURES / name).read_bytes(),
            filename=name,
            title=f"Document {name.split('.')[-1]}",
        )
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    services.run_background_once()

    phrases = {
        "victim-services.pdf": '"independent sexual violence advisers"',
        "commissioning-plan.docx": '"restorative justice pathway"',
        "helpline-referral.eml": '"domestic abuse helpline rose"',
    }
    for name, phrase in phrases.items():
        body = search(client, actors.staff, q=phrase)
        assert hit_ids(body) == [ids[name]], (name, body)
        assert "<mark>" in body["hits"][0]["snippet"]
    # Words shared by the PDF and the DOCX, in this order only in the DOCX.
    assert hit_ids(search(client, actors.staff, q='"plan follows the needs assessment"')) == [
        ids["commissioning-plan.docx"]
    ]


def test_a_word_only_an_old_version_had_needs_all_versions(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    record_id = _capture(client, actors.staff, "Draft specification naming the zeppelin provider.")
    services.run_background_once()
    assert hit_ids(search(client, actors.staff, q="zeppelin")) == [record_id]

    response = client.post(
        f"/api/records/{record_id}/versions",
        files={
            "file": ("v2.txt", b"Signed specification naming the airship provider.", "text/plain")
        },
        headers=actors.staff,
    )
    assert response.status_code == 201, response.text
    services.run_background_once()

    current_only = search(client, actors.staff, q="zeppelin")
    assert (current_only["total"], current_only["hits"]) == (0, [])
    every = search(client, actors.staff, q="zeppelin", all_versions="true")
    assert [(h["record_id"], h["version"], h["is_current"]) for h in every["hits"]] == [
        (record_id, 1, False)
    ]
    newest = search(client, actors.staff, q="airship")
    assert [(h["version"], h["is_current"]) for h in newest["hits"]] == [(2, True)]
    both = search(client, actors.staff, q="specification", all_versions="true")
    assert sorted(h["version"] for h in both["hits"]) == [1, 2]


@sqlite_only
def test_metadata_edits_update_the_index(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    create_contract(client, actors.staff)
    create_contract(client, actors.staff, reference="OPCC-2024-002")
    record_id = _capture(client, actors.staff, "Quarterly figures.", title="Helpline minutes")
    services.run_background_once()
    clock.advance(minutes=5)
    response = client.patch(
        f"/api/records/{record_id}",
        json={
            "title": "Board decision on the kestrel bid",
            "tags": ["award"],
            "contract": "OPCC-2024-002",
            "record_type": "decision_record",
            "reason": "filed under the wrong contract",
        },
        headers=actors.staff,
    )
    assert response.status_code == 200, response.text
    services.run_background_once()

    assert search(client, actors.staff, q="title:minutes")["total"] == 0
    hit = search(client, actors.staff, q="kestrel")["hits"][0]
    assert (hit["record_id"], hit["title"]) == (record_id, "Board decision on the kestrel bid")
    assert (hit["contract"], hit["record_type"]) == ("OPCC-2024-002", "decision_record")
    assert hit_ids(search(client, actors.staff, tag="award")) == [record_id]
    assert search(client, actors.staff, tag="helpline")["total"] == 0
    assert search(client, actors.staff, contract="OPCC-2023-014")["total"] == 0


def _corpus(client: TestClient, actors: Actors) -> dict[str, str]:
    create_contract(client, actors.staff)
    create_contract(client, actors.staff, reference="OPCC-2024-002")
    specs = {
        "a": ("OPCC-2023-014", "minutes", "2023-02-01", "board,helpline"),
        "b": ("OPCC-2023-014", "correspondence", "2023-07-10", "helpline"),
        "c": ("OPCC-2023-014", "monitoring_return", "2024-01-05", "board"),
        "d": ("OPCC-2024-002", "minutes", "2024-03-20", "board,helpline"),
        "e": ("OPCC-2024-002", "invoice", "2025-05-02", ""),
    }
    ids = {}
    for key, (contract, record_type, day, tags) in specs.items():
        ids[key] = _capture(
            client,
            actors.staff,
            f"Commissioning review {key}: the helpline service met its targets.",
            title=f"Record {key}",
            contract=contract,
            record_type=record_type,
            record_date=day,
            tags=tags,
        )
    return ids


@sqlite_only
def test_filters_facets_sort_and_pagination(
    client: TestClient, actors: Actors, services: Services
) -> None:
    ids = _corpus(client, actors)
    services.run_background_once()
    staff = actors.staff
    name = {v: k for k, v in ids.items()}

    def keys(**params: Any) -> set[str]:
        return {name[i] for i in hit_ids(search(client, staff, q="helpline", **params))}

    assert keys(contract="OPCC-2024-002") == {"d", "e"}
    assert keys(record_type=["minutes", "invoice"]) == {"a", "d", "e"}
    assert keys(tag=["board", "helpline"]) == {"a", "d"}
    assert keys(date_from="2023-07-10", date_to="2024-03-20") == {"b", "c", "d"}
    assert keys(classification="OFFICIAL") == set(ids)

    everything = search(client, staff, q="helpline")
    assert everything["facets"]["record_type"] == {
        "minutes": 2,
        "correspondence": 1,
        "invoice": 1,
        "monitoring_return": 1,
    }
    assert everything["facets"]["contract"] == {"OPCC-2023-014": 3, "OPCC-2024-002": 2}
    assert everything["facets"]["year"] == {"2023": 2, "2024": 2, "2025": 1}
    filtered = search(client, staff, q="helpline", contract="OPCC-2023-014")
    assert filtered["facets"]["year"] == {"2023": 2, "2024": 1}

    by_date = search(client, staff, q="helpline", sort="date")
    assert [name[i] for i in hit_ids(by_date)] == ["e", "d", "c", "b", "a"]
    assert {hit["score"] for hit in by_date["hits"]} == {0.0}
    assert all(hit["score"] > 0 for hit in everything["hits"])

    pages = [
        search(client, staff, q="helpline", sort="date", page=n, page_size=2) for n in (1, 2, 3)
    ]
    assert [(p["total"], p["pages"], p["page"], p["page_size"]) for p in pages] == [
        (5, 3, 1, 2),
        (5, 3, 2, 2),
        (5, 3, 3, 2),
    ]
    assert [name[i] for p in pages for i in hit_ids(p)] == ["e", "d", "c", "b", "a"]
    beyond = search(client, staff, q="helpline", page=9, page_size=2)
    assert (beyond["hits"], beyond["total"]) == ([], 5)


def test_sensitive_records_never_leak_to_staff_who_did_not_capture_them(
    client: TestClient, actors: Actors, services: Services
) -> None:
    open_id, secret_id = _budget_and_secret(
        client,
        actors.staff,
        "The helpline budget hides the informant codename marigold.",
        title="Informant note",
        classification="OFFICIAL-SENSITIVE",
    )
    services.run_background_once()

    for params in ({"q": "marigold"}, {"q": "informant", "all_versions": "true"}):
        body = search(client, actors.staff2, **params)
        assert (body["hits"], body["total"]) == ([], 0)
        assert all(counts == {} for counts in body["facets"].values())
    shared = search(client, actors.staff2, q="helpline budget", all_versions="true")
    assert hit_ids(shared) == [open_id]
    assert shared["total"] == 1
    assert shared["facets"] == {
        "record_type": {"needs_assessment": 1},
        "contract": {"OPCC-2023-014": 1},
        "year": {"2023": 1},
    }
    assert "marigold" not in json.dumps(shared).lower()
    everything = search(client, actors.staff2)
    assert secret_id not in hit_ids(everything) and everything["total"] == 1
    assert search(client, actors.staff2, contract="OPCC-SECRET-9")["total"] == 0
    assert search(client, actors.staff2, q="captured_by:sam")["total"] == 1

    for who in (
        actors.staff,
        actors.reviewer,
        actors.records_manager,
        actors.auditor,
        actors.admin,
    ):
        body = search(client, who, q="marigold")
        assert hit_ids(body) == [secret_id]
        assert "<mark>marigold</mark>" in body["hits"][0]["snippet"]


def test_a_reclassified_record_leaves_search_before_the_patch_answers(
    client: TestClient, actors: Actors, services: Services
) -> None:
    open_id, secret_id = _budget_and_secret(
        client, actors.staff, "The helpline budget names the refuge marigold.", title="Refuge note"
    )
    services.run_background_once()
    assert search(client, actors.staff2, q="marigold")["total"] == 1

    patched = client.patch(
        f"/api/records/{secret_id}",
        json={"classification": "OFFICIAL-SENSITIVE", "reason": "names a refuge"},
        headers=actors.staff,
    )
    assert patched.status_code == 200, patched.text
    # The index has not caught up (nothing drained the queue), yet nothing leaks.
    for params in ({"q": "marigold"}, {"q": "refuge", "all_versions": "true"}, {}):
        body = search(client, actors.staff2, **params)
        assert secret_id not in hit_ids(body), params
        assert "marigold" not in json.dumps(body).lower()
        assert "OPCC-SECRET-9" not in body["facets"].get("contract", {})
        assert "2021" not in body["facets"].get("year", {})
    shared = search(client, actors.staff2, q="helpline budget")
    assert (hit_ids(shared), shared["total"]) == ([open_id], 1)
    assert shared["facets"]["contract"] == {"OPCC-2023-014": 1}
    for who in (actors.staff, actors.reviewer):
        assert hit_ids(search(client, who, q="marigold")) == [secret_id]

    services.run_background_once()
    assert search(client, actors.staff2, q="marigold")["total"] == 0
    assert hit_ids(search(client, actors.reviewer, q="marigold")) == [secret_id]


def test_hits_are_checked_against_the_database_even_if_the_index_lost_its_task(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    ids = [
        _capture(client, actors.staff, f"Marigold refuge visit {n}.", title=f"Visit {n}")
        for n in range(3)
    ]
    services.run_background_once()
    patched = client.patch(
        f"/api/records/{ids[1]}",
        json={"classification": "OFFICIAL-SENSITIVE", "reason": "names a refuge"},
        headers=actors.staff,
    )
    assert patched.status_code == 200, patched.text
    # Fault injection: the index misses the change and no task says so (as after a
    # rebuild swapped in from a snapshot older than the change).
    with session_scope(services.engine) as session:
        session.execute(delete(IndexTask))

    whole = search(client, actors.staff2, q="marigold")
    assert sorted(hit_ids(whole)) == sorted([ids[0], ids[2]])
    assert whole["total"] == 2 and whole["facets"]["record_type"] == {"needs_assessment": 2}
    for page in (1, 2, 3):  # paged one by one, the hidden hit never shows either
        body = search(client, actors.staff2, q="marigold", page=page, page_size=1)
        assert ids[1] not in hit_ids(body) and "Visit 1" not in json.dumps(body)
    assert search(client, actors.reviewer, q="marigold")["total"] == 3


@pytest.mark.parametrize("params", [{"page": "0"}, {"page_size": "500"}, {"page": str(2**63)}])
@sqlite_only
def test_page_bounds_are_a_422_as_on_every_list_and_are_not_audited(
    client: TestClient, actors: Actors, services: Services, params: dict[str, str]
) -> None:
    response = client.get("/api/search", params={"q": "helpline", **params}, headers=actors.staff)
    assert response.status_code == 422, response.text
    assert next(iter(params)) in response.json()["detail"]
    assert search_entries(services) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": '"value for money'}, "quote"),
        ({"q": "funding AND"}, "AND"),
        ({"q": "foo:bar"}, "unknown field"),
        ({"q": "date:2024-13-01"}, "date"),
        ({"q": "(helpline"}, "("),
        ({"q": "version:abc"}, "not a valid number"),
        ({"q": "the"}, "common"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_from"),
        ({"classification": "TOP SECRET"}, "classification"),
    ],
)
@sqlite_only
def test_bad_queries_get_a_400_problem_and_are_not_audited(
    client: TestClient,
    actors: Actors,
    services: Services,
    params: dict[str, str],
    expected: str,
) -> None:
    response = client.get("/api/search", params=params, headers=actors.staff)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith(":invalid-query")
    assert problem["status"] == 400
    assert expected.lower() in problem["detail"].lower(), problem["detail"]
    assert search_entries(services) == []


def test_each_search_leaves_exactly_one_audit_entry(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    _corpus(client, actors)
    services.run_background_once()
    search(client, actors.staff2, q="helpline")
    clock.advance(minutes=1)
    search(
        client,
        actors.reviewer,
        q='"helpline service"',
        contract="OPCC-2023-014",
        record_type=["minutes", "correspondence"],
        tag=["board"],
        date_from="2023-01-01",
        date_to="2023-12-31",
        classification="OFFICIAL",
        all_versions="true",
        sort="date",
        page=1,
        page_size=5,
    )

    entries = search_entries(services)
    assert [(e.actor, e.subject) for e in entries] == [("sue", "search"), ("rita", "search")]
    assert entries[1].at > entries[0].at
    assert json.loads(entries[0].details) == {
        "query": "helpline",
        "filters": {"all_versions": False, "sort": "relevance", "page": 1, "page_size": 20},
        "total": 5,
    }
    assert json.loads(entries[1].details) == {
        "query": '"helpline service"',
        "filters": {
            "contract": "OPCC-2023-014",
            "record_type": ["minutes", "correspondence"],
            "tag": ["board"],
            "date_from": "2023-01-01",
            "date_to": "2023-12-31",
            "classification": "OFFICIAL",
            "all_versions": True,
            "sort": "date",
            "page": 1,
            "page_size": 5,
        },
        "total": 1,
    }


@sqlite_only
def test_search_needs_a_token(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "helpline"})
    assert response.status_code == 401


@sqlite_only
def test_health_reports_index_lag(
    client: TestClient, actors: Actors, services: Services, clock: FixedClock
) -> None:
    create_contract(client, actors.staff)
    _capture(client, actors.staff, "Helpline minutes.")
    clock.advance(seconds=42)
    _capture(client, actors.staff, "Helpline invoice.")
    clock.advance(seconds=8)

    lagging = client.get("/health").json()["index"]
    assert lagging["pending"] == 2
    assert lagging["oldest_pending_seconds"] == pytest.approx(50.0)
    services.run_background_once()
    caught_up = client.get("/health").json()["index"]
    assert (caught_up["pending"], caught_up["oldest_pending_seconds"]) == (0, None)
    assert (caught_up["documents"], caught_up["needs_rebuild"]) == (2, False)


REBUILD_LOCK_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


@sqlite_only
def test_health_reports_a_rebuild_that_another_process_runs(
    client: TestClient, services: Services, settings: Any
) -> None:
    # A rebuild holds the index root's rebuild lock from start to swap: here a separate
    # process holds it, as `serve`'s worker or `records-service reindex` would.
    services.run_background_once()
    assert client.get("/health").json()["index"]["rebuilding"] is False
    assert services.index is not None
    lock_path = Path(services.index.stats().path) / "rebuild.lock"
    with subprocess.Popen(
        [sys.executable, "-c", REBUILD_LOCK_HOLDER, str(lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
            during = client.get("/health").json()["index"]
            assert (during["rebuilding"], during["ok"]) == (True, True)
        finally:
            holder.kill()  # a writer that dies releases the lock with it
    assert client.get("/health").json()["index"]["rebuilding"] is False
