"""The index queue on a real app: crash safety, pending text, disposal, bad records,
another writer holding the index, and rebuilds from the database.

Faults are injected with wrappers around the real index that fail at a chosen step.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select
from whoosh import index as whoosh_index

from factories import Actors, assert_problem, capture, create_contract
from records_service.db import session_scope
from records_service.indexing import (
    IndexDocument,
    Progress,
    SearchIndex,
    SearchQuery,
    Visibility,
)
from records_service.indexing import _generations as generations_module
from records_service.indexing import whoosh_index as whoosh_index_module
from records_service.indexing._generations import root_lock
from records_service.indexing.tantivy_index import WRITER_LOCK, TantivySearchIndex
from records_service.records.models import IndexTask, Record
from records_service.records.text import extract_pending
from records_service.runtime.services import Services
from records_service.search.engine import open_search_index
from records_service.search.feed import IndexFeed, index_lag, rebuild_from_database
from records_service.settings import Settings
from support.waiting import wait_until

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

EVERYONE = Visibility(see_sensitive=True, username="rita")


class SimulatedCrash(Exception):
    """Stands in for the process dying at the injected point."""


class CrashingIndex:
    """A real index that 'crashes' just before or just after committing a write."""

    def __init__(self, inner: SearchIndex, *, after_commit: bool) -> None:
        self.inner = inner
        self.after_commit = after_commit

    @property
    def needs_rebuild(self) -> bool:
        return self.inner.needs_rebuild

    def add_or_replace(self, docs: Iterable[IndexDocument]) -> None:
        if self.after_commit:
            self.inner.add_or_replace(docs)
        raise SimulatedCrash

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class PausingIndex:
    """A real index whose rebuild stops after its first document until released."""

    def __init__(self, inner: SearchIndex) -> None:
        self.inner = inner
        self.paused = threading.Event()
        self.release = threading.Event()

    def rebuild(
        self, docs: Iterable[IndexDocument], progress: Progress | None = None, *, processes: int = 1
    ) -> int:
        def pausing() -> Iterator[IndexDocument]:
            for number, doc in enumerate(docs):
                if number == 1:
                    self.paused.set()
                    assert self.release.wait(30)
                yield doc

        return self.inner.rebuild(pausing(), progress, processes=processes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def found(index: SearchIndex, text: str, *, all_versions: bool = False) -> list[tuple[str, int]]:
    result = index.search(SearchQuery(text=text, all_versions=all_versions), EVERYONE)
    return sorted((hit.record_id, hit.version) for hit in result.hits)


def queued(services: Services) -> list[str]:
    with session_scope(services.engine) as session:
        return [t.record_id for t in session.exec(select(IndexTask).order_by(col(IndexTask.id)))]


def _capture(client: TestClient, actors: Actors, text: str, **form: Any) -> str:
    response = capture(client, actors.staff, content=text.encode(), **form)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def ready(client: TestClient, actors: Actors, services: Services) -> Services:
    """An app with a contract, whose new empty index has had its first (empty) rebuild."""
    create_contract(client, actors.staff)
    services.run_background_once()
    assert services.index is not None and not services.index.needs_rebuild
    return services


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before", "after"])
def test_a_crash_around_the_index_commit_loses_nothing_and_duplicates_nothing(
    client: TestClient, actors: Actors, ready: Services, after_commit: bool
) -> None:
    assert ready.index is not None
    record_id = _capture(client, actors, "The quokka survey was commissioned.")
    extract_pending(ready.engine, ready.store)
    crashing = IndexFeed(ready.engine, CrashingIndex(ready.index, after_commit=after_commit))

    with pytest.raises(SimulatedCrash):
        crashing.apply_pending()

    assert queued(ready) == [record_id]
    assert found(ready.index, "quokka") == ([(record_id, 1)] if after_commit else [])
    assert ready.run_background_once() >= 1
    assert queued(ready) == []
    assert found(ready.index, "quokka", all_versions=True) == [(record_id, 1)]
    assert ready.index.stats().doc_count == 1


@sqlite_only
def test_a_version_with_pending_text_is_found_by_metadata_now_and_by_text_later(
    client: TestClient, actors: Actors, ready: Services
) -> None:
    assert ready.index is not None and ready.index_feed is not None
    record_id = _capture(
        client, actors, "Minutes mention the pangolin grant.", title="Board minutes"
    )

    assert ready.index_feed.apply_pending() == 0  # indexed by metadata; the task waits
    assert found(ready.index, "title:minutes") == [(record_id, 1)]
    assert found(ready.index, "pangolin") == []
    assert queued(ready) == [record_id]
    assert ready.index_feed.apply_pending() == 0

    assert extract_pending(ready.engine, ready.store) == 1
    assert ready.index_feed.apply_pending() == 1
    assert found(ready.index, "pangolin") == [(record_id, 1)]
    assert queued(ready) == []


@sqlite_only
@pytest.mark.parametrize("search_engine", ["whoosh"])  # counts commits by Whoosh generations
def test_ready_and_waiting_records_reach_the_index_in_one_commit(
    client: TestClient, actors: Actors, ready: Services, settings: Settings
) -> None:
    assert ready.index is not None and ready.index_feed is not None
    with_text = _capture(client, actors, "The okapi outreach grant.", title="Grant letter")
    assert extract_pending(ready.engine, ready.store) == 1
    waiting = _capture(client, actors, "The tapir helpline figures.", title="Helpline return")
    generation = Path(settings.index_path) / _live_generation(settings.index_path)
    live = whoosh_index.open_dir(str(generation))
    before = live.latest_generation()

    assert ready.index_feed.apply_pending() == 1  # the waiting record's task stays queued

    assert live.latest_generation() == before + 1
    assert found(ready.index, "okapi") == [(with_text, 1)]
    assert found(ready.index, "title:helpline") == [(waiting, 1)]
    assert found(ready.index, "tapir") == []
    assert queued(ready) == [waiting]


def _set_status(services: Services, record_id: str, status: str, op: str) -> None:
    with session_scope(services.engine) as session:
        record = session.get(Record, record_id)
        assert record is not None
        record.status = status
        session.add(record)
        session.add(IndexTask(record_id=record_id, op=op, enqueued_at=services.clock()))


@sqlite_only
def test_disposed_and_transferred_records_leave_the_index(
    client: TestClient, actors: Actors, ready: Services
) -> None:
    assert ready.index is not None
    kept = _capture(client, actors, "Wombat monitoring return.")
    disposed = _capture(client, actors, "Wombat invoice.")
    transferred = _capture(client, actors, "Wombat closure report.")
    ready.run_background_once()
    assert len(found(ready.index, "wombat")) == 3

    _set_status(ready, disposed, "disposed", "remove")
    # The database decides: even an upsert task removes a record that is no longer searchable.
    _set_status(ready, transferred, "transferred", "upsert")
    ready.run_background_once()

    assert found(ready.index, "wombat", all_versions=True) == [(kept, 1)]
    assert queued(ready) == []


@sqlite_only
def test_a_record_that_cannot_be_indexed_does_not_hold_up_the_others(
    client: TestClient, actors: Actors, ready: Services
) -> None:
    assert ready.index is not None and ready.index_feed is not None
    broken = _capture(client, actors, "Narwhal draft.")
    good = _capture(client, actors, "Narwhal final.")
    with session_scope(ready.engine) as session:
        record = session.get(Record, broken)
        assert record is not None
        record.classification = "UNKNOWN-MARKING"  # a document cannot carry it
        session.add(record)
    extract_pending(ready.engine, ready.store)

    assert ready.index_feed.apply_pending() == 1
    assert found(ready.index, "narwhal") == [(good, 1)]
    assert queued(ready) == [broken]
    assert ready.index_feed.apply_pending() == 0


@sqlite_only
def test_another_process_holding_the_index_delays_work_without_losing_it(
    client: TestClient, actors: Actors, ready: Services, settings: Settings
) -> None:
    assert ready.index is not None
    impatient = _open(settings, lock_timeout=0.2)
    feed = IndexFeed(ready.engine, impatient, busy_backoff=0)
    record_id = _capture(client, actors, "Axolotl helpline figures.")
    extract_pending(ready.engine, ready.store)
    release = _hold_write_lock(settings, impatient)
    try:
        assert feed.apply_pending() == 0
        assert queued(ready) == [record_id]
    finally:
        release()

    assert feed.apply_pending() == 1
    assert found(ready.index, "axolotl") == [(record_id, 1)]
    impatient.close()


def _open(settings: Settings, *, lock_timeout: float = 30.0) -> SearchIndex:
    """Another handle on the configured index, as another process would open it."""
    index = settings.index.model_copy(update={"lock_timeout": lock_timeout})
    return open_search_index(settings.model_copy(update={"index": index}))


def _hold_write_lock(settings: Settings, index: SearchIndex) -> Callable[[], None]:
    """Take the engine's own write lock, as a writer in another process holds it."""
    generation = Path(index.stats().path) / _live_generation(Path(index.stats().path))
    if settings.index.engine == "whoosh":
        writer = whoosh_index.open_dir(str(generation)).writer()
        return writer.cancel  # type: ignore[no-any-return]
    lock = root_lock(generation, WRITER_LOCK)
    assert lock.acquire(blocking=False)
    return lock.release


def _live_generation(root: Path) -> str:
    return str(json.loads((root / "index.json").read_text())["generation"])


@sqlite_only
def test_a_change_made_during_another_process_rebuild_is_applied_after_it(
    client: TestClient, actors: Actors, ready: Services, settings: Settings
) -> None:
    """The server's writer waits while a `reindex` holds the index; its queue catches up."""
    first = _capture(client, actors, "Ocelot tender evaluation.", title="Evaluation")
    _capture(client, actors, "Ocelot tender submission.", title="Submission")
    ready.run_background_once()
    rebuilding = PausingIndex(_open(settings))
    server = _open(settings, lock_timeout=0.2)
    server_feed = IndexFeed(ready.engine, server, busy_backoff=0)
    counts: list[int] = []
    worker = threading.Thread(
        target=lambda: counts.append(rebuild_from_database(ready.engine, rebuilding))
    )
    worker.start()
    try:
        assert rebuilding.paused.wait(30)
        # The rebuild has read the database already; this edit comes too late for it.
        response = client.patch(
            f"/api/records/{first}",
            json={"title": "Evaluation of the capybara bid", "reason": "clearer title"},
            headers=actors.staff,
        )
        assert response.status_code == 200, response.text
        assert server_feed.apply_pending() == 0  # the rebuild holds the write lock
        assert found(server, "ocelot") != []  # searches still answer from the old index
    finally:
        rebuilding.release.set()
        worker.join(30)

    assert counts == [2]
    assert found(server, "capybara") == []
    assert server_feed.apply_pending() == 1
    assert found(server, "capybara") == [(first, 1)]
    assert queued(ready) == []
    server.close()


@sqlite_only
def test_an_index_lost_or_reset_is_rebuilt_from_the_database(
    client: TestClient, actors: Actors, ready: Services, tmp_path: Path
) -> None:
    first = _capture(client, actors, "Platypus needs assessment.")
    client.post(
        f"/api/records/{first}/versions",
        files={"file": ("v2.txt", b"Echidna needs assessment.", "text/plain")},
        headers=actors.staff,
    )
    second = _capture(client, actors, "Platypus specification.")
    ready.run_background_once()
    settings = ready.settings.model_copy(
        update={
            "index": ready.settings.index.model_copy(update={"path": tmp_path / "fresh-index"}),
            "retention": ready.settings.retention.model_copy(update={"interval_hours": 0}),
        }
    )
    fresh = Services.start(settings)
    try:
        index = fresh.index
        assert index is not None and index.needs_rebuild
        fresh.start_worker()  # the rebuild runs in its own thread; start-up does not wait
        wait_until(lambda: not index.needs_rebuild, "the rebuild never finished")
        assert found(index, "platypus", all_versions=True) == sorted([(first, 1), (second, 1)])
        assert found(index, "echidna") == [(first, 2)]
        with session_scope(fresh.engine) as session:
            assert index_lag(session, fresh.clock()).pending == 0
    finally:
        fresh.close()


@sqlite_only
def test_a_deleted_index_directory_answers_503_and_is_rebuilt_by_itself(
    client: TestClient, actors: Actors, ready: Services
) -> None:
    record_id = _capture(client, actors, "Quoll outreach figures.")
    ready.run_background_once()
    assert ready.index is not None
    shutil.rmtree(Path(ready.index.stats().path))

    response = client.get("/api/search", params={"q": "quoll"}, headers=actors.reviewer)
    problem = assert_problem(response, 503)
    assert "being rebuilt from the database (no index was found)" in problem["detail"]
    assert response.headers["Retry-After"] == "30"

    ready.run_background_once()  # the worker's next round rebuilds the recreated index
    response = client.get("/api/search", params={"q": "quoll"}, headers=actors.reviewer)
    assert [hit["record_id"] for hit in response.json()["hits"]] == [record_id]


def _damage_stored_documents(root: Path) -> int:
    """Fault injection: flip bytes in the middle of every file holding the index's stored
    documents (Whoosh's ``_stored.col``, tantivy's ``.store``); returns how many."""
    damaged = 0
    for path in root.rglob("*"):
        if path.name.endswith("_stored.col") or path.suffix == ".store":
            data = bytearray(path.read_bytes())
            for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
                data[i] ^= 0x5A
            path.chmod(0o600)
            path.write_bytes(bytes(data))
            damaged += 1
    return damaged


@sqlite_only
def test_a_damaged_index_answers_503_naming_the_cause_and_is_rebuilt_by_itself(
    client: TestClient, actors: Actors, ready: Services
) -> None:
    records = sorted(_capture(client, actors, f"Quoll outreach figures, part {n}.") for n in "ab")
    ready.run_background_once()
    assert ready.index is not None
    assert _damage_stored_documents(Path(ready.index.stats().path)) >= 1

    response = client.get("/api/search", params={"q": "quoll"}, headers=actors.reviewer)
    problem = assert_problem(response, 503)
    assert problem["type"].endswith(":index-rebuilding"), problem
    assert "the search index files are damaged (" in problem["detail"], problem
    assert ready.index.needs_rebuild
    assert "damaged" in (ready.index.stats().rebuild_reason or "")

    ready.run_background_once()  # the worker's next round rebuilds the new index
    response = client.get("/api/search", params={"q": "quoll"}, headers=actors.reviewer)
    assert sorted(hit["record_id"] for hit in response.json()["hits"]) == records


def _fail_searches(monkeypatch: pytest.MonkeyPatch, search_engine: str) -> None:
    """Fault injection: every search of the engine raises a TypeError of its own."""

    def fault(*args: object) -> None:
        raise TypeError("a fault injected into the search")

    if search_engine == "whoosh":
        monkeypatch.setattr(whoosh_index_module, "_search", fault)
    else:
        monkeypatch.setattr(TantivySearchIndex, "_search", fault)


@sqlite_only
def test_an_error_in_an_intact_index_is_not_taken_for_damage(
    client: TestClient,
    actors: Actors,
    ready: Services,
    search_engine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _capture(client, actors, "Quoll outreach figures.")
    ready.run_background_once()
    assert ready.index is not None

    _fail_searches(monkeypatch, search_engine)
    with pytest.raises(TypeError, match="a fault injected"):
        ready.index.search(SearchQuery(text="quoll"), Visibility(see_sensitive=True, username="r"))
    assert not ready.index.needs_rebuild  # its files read back: not reset


@sqlite_only
def test_a_run_of_errors_in_an_intact_index_reads_it_back_once_until_the_trust_lapses(
    client: TestClient,
    actors: Actors,
    ready: Services,
    search_engine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read-back reads every stored document (seconds at archive scale), so one that
    found the files whole is not repeated for each error that follows at once."""
    _capture(client, actors, "Quoll outreach figures.")
    ready.run_background_once()
    index = ready.index
    assert index is not None
    reads: list[bool] = []
    read_back = type(index)._read_back  # type: ignore[attr-defined]

    def counted(self: Any, live: Any) -> bool:
        reads.append(read_back(self, live))
        return reads[-1]

    monkeypatch.setattr(type(index), "_read_back", counted)
    _fail_searches(monkeypatch, search_engine)
    query, who = SearchQuery(text="quoll"), Visibility(see_sensitive=True, username="r")
    for _ in range(3):
        with pytest.raises(TypeError, match="a fault injected"):
            index.search(query, who)
    assert reads == [True]

    monkeypatch.setattr(generations_module, "TRUST_READ_BACK_SECONDS", 0.0)
    with pytest.raises(TypeError, match="a fault injected"):
        index.search(query, who)
    assert reads == [True, True]
    assert not index.needs_rebuild
