"""A full disk is a 503 that says the disk is full (it used to be the generic 'storage
unavailable, retry later', or for the database a 500), and nothing is half-written."""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlmodel import select

from factories import Actors, assert_problem, capture
from records_service.db import read_scope
from records_service.records.models import Record
from records_service.runtime.services import Services


def _records(services: Services) -> int:
    with read_scope(services.engine) as session:
        return int(session.exec(select(func.count()).select_from(Record)).one())


@pytest.mark.server_errors_as_responses
def test_a_full_blob_store_disk_answers_503_saying_so(
    client: TestClient, actors: Actors, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def disk_full_for_new_objects(fd: int, data: Any) -> int:
        # Only the store's temporary files (".put-*") meet the full disk.
        if "/.put-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_full_for_new_objects)
    body = assert_problem(capture(client, actors.staff, contract=None), 503)
    assert body["type"].endswith(":storage-full"), body
    assert "disk is full" in body["detail"]
    monkeypatch.undo()
    assert _records(services) == 0
    assert capture(client, actors.staff, contract=None).status_code == 201


@pytest.mark.server_errors_as_responses
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_full_database_disk_answers_503_saying_so(
    client: TestClient, actors: Actors, services: Services
) -> None:
    engine = services.engine
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
    engine.dispose()

    @event.listens_for(engine, "connect")
    def no_more_pages(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    for _ in range(50):  # until a capture needs a page the database may not have
        response = capture(client, actors.staff, contract=None)
        if response.status_code != 201:
            break
    body = assert_problem(response, 503)
    assert body["type"].endswith(":database-full"), body
    assert "disk is full" in body["detail"] and response.headers["retry-after"]
    # The refused capture's object was removed again: one object per captured record.
    assert len(list(services.store.list("records/"))) == _records(services)
    event.remove(engine, "connect", no_more_pages)  # space again, for the shutdown
    engine.dispose()
