"""A flood of failed bearer requests costs a bounded number of audit entries, and
the log still accounts for every failure (issue 17, defect 7)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import FixedClock
from records_service.audit.verify import verify_log
from records_service.runtime.services import Services
from support.failures import failure_details, failure_total

BAD = {"Authorization": "Bearer rs_0123456789abcdef_not-a-real-secret"}


def test_a_flood_of_failed_requests_costs_two_entries_per_interval(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    interval = services.settings.auth.failure_interval_seconds
    before = len(failure_details(services.engine))
    for _ in range(200):
        assert client.get("/api/records", headers=BAD).status_code == 401
    # The first failure is in the log at once; the other 199 are counted.
    details = failure_details(services.engine)[before:]
    assert [(d["count"], d["source"], d["interval"]) for d in details] == [(1, "testclient", None)]
    clock.advance(seconds=interval)
    services.run_background_once()
    details = failure_details(services.engine)[before:]
    assert len(details) == 2
    assert details[1]["count"] == 199
    assert details[1]["reason"] == "invalid or revoked token"
    assert details[1]["interval"] == "2026-06-15T09:30:00.000000Z/2026-06-15T09:35:00.000000Z"
    assert sum(d["count"] for d in details) == 200
    services.run_background_once()
    assert len(failure_details(services.engine)) == before + 2, "a closed interval is audited once"


def test_flood_over_several_intervals_is_bounded_and_fully_counted(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    interval = services.settings.auth.failure_interval_seconds
    before_entries = len(failure_details(services.engine))
    before_total = failure_total(services.engine)
    intervals = 4
    for _ in range(intervals):
        for _ in range(25):
            assert client.get("/api/records", headers=BAD).status_code == 401
            assert client.get("/api/records").status_code == 401
        # No background work: the next interval's first failure reports the last one.
        clock.advance(seconds=interval)
    services.run_background_once()
    entries = len(failure_details(services.engine)) - before_entries
    reasons = 2
    assert entries <= 2 * reasons * intervals
    assert failure_total(services.engine) - before_total == 200


def test_each_source_is_counted_on_its_own(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    other = TestClient(client.app, client=("2001:db8:5:6:1:2:3:4", 4000))
    neighbour = TestClient(client.app, client=("2001:db8:5:6:ffff::9", 4000))
    for _ in range(10):
        assert client.get("/api/records", headers=BAD).status_code == 401
        assert other.get("/api/records", headers=BAD).status_code == 401
        assert neighbour.get("/api/records", headers=BAD).status_code == 401
    clock.advance(seconds=services.settings.auth.failure_interval_seconds)
    services.run_background_once()
    by_source: dict[str, int] = {}
    for details in failure_details(services.engine):
        by_source[details["source"]] = by_source.get(details["source"], 0) + details["count"]
    # One IPv6 client holds a whole /64, so its addresses count as one source.
    assert by_source == {"testclient": 10, "2001:db8:5:6::/64": 20}


def test_the_log_still_verifies_after_a_flood(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    for _ in range(30):
        client.get("/api/records", headers=BAD)
    clock.advance(seconds=services.settings.auth.failure_interval_seconds)
    services.run_background_once()
    report = verify_log(services.engine, checkpoint_store=None, trusted_keys=[], origin="x")
    # Without a signing key only the chain itself is checked: every entry, none bad.
    assert report.first_bad_range is None, report.problems
    assert report.entries_checked == report.tree_size == 2  # thirty failures, two entries
