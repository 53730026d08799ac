"""The orphan check finds objects without rows and rows without objects."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract
from records_service.records.orphans import find_orphans
from records_service.runtime.services import Services


def test_agreeing_store_and_catalogue(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    capture(client, actors.staff)
    assert find_orphans(services.engine, services.store).ok


def test_detects_both_directions(client: TestClient, actors: Actors, services: Services) -> None:
    create_contract(client, actors.staff)
    record = capture(client, actors.staff).json()
    key = f"records/{record['id']}/v1"
    # Simulate damage behind the service's back: remove content, add a stray object.
    services.store.delete(key)
    services.store.put("records/stray/v1", io.BytesIO(b"left behind"))
    report = find_orphans(services.engine, services.store)
    assert report.missing_objects == [key]
    assert report.orphan_objects == ["records/stray/v1"]
    assert not report.ok
