"""The checks after a restore are ours on every database: after a PostgreSQL restore (by
pg_restore) the same three run, and each says what is wrong in words."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import Actors, capture, create_contract
from records_service.audit.keys import ensure_signing_key
from records_service.audit.writer import writer_for
from records_service.backup.checks import check_restored
from records_service.runtime.services import Services


def test_the_checks_pass_on_an_intact_installation_and_name_a_lost_version(
    client: TestClient, services: Services, actors: Actors
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    keys = []
    for body in (b"first minutes\n", b"second minutes\n"):
        created = capture(client, actors.staff, content=body)
        assert created.status_code == 201, created.text
        keys.append(f"records/{created.json()['id']}/v1")
    services.run_background_once()
    ensure_signing_key(services.settings)
    writer = writer_for(
        services.settings, engine=services.engine, store=services.store, clock=services.clock
    )
    assert writer.publish() is not None

    def run() -> dict[str, tuple[bool, str, list[str]]]:
        results = check_restored(
            services.engine, services.store, services.schedule, services.settings, services.clock
        )
        return {r.name: (r.ok, r.summary, r.details) for r in results}

    intact = run()
    assert all(ok for ok, _, _ in intact.values()), intact
    assert intact["fixity"][1] == "all 2 stored version(s) match their recorded SHA-256"

    services.store.delete(keys[0])  # as a restore that lost one object would leave it
    damaged = run()
    assert damaged["store and catalogue"][0] is False
    assert f"missing from the store: {keys[0]}" in damaged["store and catalogue"][2]
    assert damaged["fixity"][:2] == (
        False,
        "1 of 2 stored version(s) are missing or differ from their recorded SHA-256; "
        "0 could not be read",
    )
    assert damaged["audit log"][0] is True
