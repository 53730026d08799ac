"""The Panel's report's data for a small period, exactly, on SQLite and PostgreSQL: the
awards, each case file's money and completeness, the open findings, the disposal, the
signed checkpoint; the known-gap seam; and a query count that does not grow with the
number of contracts (no query per contract). One scenario, built once per database,
serves every check (building it is most of the cost)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from factories import Actors
from finance.money import pay
from records_service.db import read_scope
from records_service.reports.known_gaps import GapExplainer, explains_nothing
from records_service.reports.lines import AwardLine, PanelReport
from records_service.reports.panel import gather_panel
from records_service.retention.completeness import Gap
from records_service.runtime.services import Services
from reports.scenario import PERIOD, Built, build
from retention.casefiles import add_contract, add_record, findings

QUARTERLY = "A monitoring return for every quarter of delivery"


def gather(services: Services, built: Built, explain: GapExplainer | None = None) -> PanelReport:
    with read_scope(services.engine) as session:
        return gather_panel(
            session,
            period=PERIOD,
            schedule=services.schedule,
            produced_at=services.clock(),
            produced_by="rob",
            verifier_keys=[built.verifier_key],
            explain=explain,
        )


def test_the_period_is_reported_exactly(
    client: TestClient, actors: Actors, services: Services
) -> None:
    built = build(client, actors, services)
    report = gather(services, built)
    assert report.as_at == date(2026, 6, 15)  # the period has not ended yet
    assert report.awards == [
        AwardLine(
            "GRANT-PR1",
            "Victim support grant",
            "Safe Haven Trust",
            "MoJ Victims Grant",
            "grant",
            date(2025, 4, 2),
            1_000_000,
            1_100_000,
            built.decision,
            "decision_record GRANT-PR1",
        ),
        AwardLine(
            "SVC-PR2",
            "Youth diversion service",
            "Northside Youth Trust",
            "PCC Community Safety Fund",
            "contract",
            date(2025, 4, 20),
            5_000_000,
            5_000_000,
            None,
            None,
        ),
    ]
    assert report.awarded_pence == 6_100_000
    grant, service = report.case_files  # OLD-PR3 (2016 to 2019) is outside the period
    assert _money(grant) == (1_100_000, 1_150_000, 400_000, 0, 750_000, 1_150_000, 400_000)
    assert (grant.outcomes, grant.records) == ({"people supported": 40}, 6)
    # The register of known gaps explains the first missing quarter; the rest are not.
    assert grant.known == [
        f"{QUARTERLY}: 2025-07-01 to 2025-09-30: known gap {built.known_gap}: lost "
        "(2025-07-01 to 2025-09-30), reported by Safe Haven Trust"
    ]
    assert grant.unexplained == [
        f"{QUARTERLY}: 2025-10-01 to 2025-12-31",
        f"{QUARTERLY}: 2026-01-01 to 2026-03-31",
    ]
    assert _money(service) == (5_000_000, 1_250_000, 0, 0, 1_250_000, 1_250_000, 0)
    assert (service.outcomes, service.records, service.known) == ({}, 1, [])
    assert service.unexplained == [
        "Needs assessment on file",
        "Invitation to tender, or a justification for direct award, for a contract over £10,000",
        "Award decision record on file",
        "Signed contract or grant agreement on file",
        f"{QUARTERLY}: 2025-04-01 to 2025-06-30",
        f"{QUARTERLY}: 2025-07-01 to 2025-09-30",
        f"{QUARTERLY}: 2025-10-01 to 2025-12-31",
        f"{QUARTERLY}: 2026-01-01 to 2026-03-31",
    ]
    assert report.gap_counts == (0, 10, 1)
    assert report.total("unspent_pence") == 2_000_000
    _check_findings(client, actors, report)
    _check_disposal_and_checkpoint(services, built, report)
    _check_known_gaps(services, built)
    _check_queries_do_not_grow(client, actors, services, built)


def _money(line: Any) -> tuple[int, ...]:
    return (
        line.value_pence,
        line.paid_pence,
        line.reported_spent_pence,
        line.recovered_pence,
        line.unspent_pence,
        line.paid_in_period_pence,
        line.spent_in_period_pence,
    )


def _check_findings(client: TestClient, actors: Actors, report: PanelReport) -> None:
    open_now = Counter(f["kind"] for f in findings(client, actors.records_manager))
    assert {kind: len(lines) for kind, lines in report.findings.items()} == dict(open_now)
    [overpaid] = report.findings["overpaid"]
    assert overpaid.summary == (
        "GRANT-PR1: paid £11,500.00 against a value of £11,000.00 (award £10,000.00, "
        "variations £1,000.00): overpaid by £500.00"
    )
    [overdue] = report.findings["publication_overdue"]
    assert overdue.contract_ref == "SVC-PR2"
    # Kinds come in the report's order: completeness, then money, then the register.
    kinds = list(report.findings)
    assert kinds.index("overdue_return") < kinds.index("overpaid")
    assert kinds.index("overpaid") < kinds.index("publication_overdue")


def _check_disposal_and_checkpoint(services: Services, built: Built, report: PanelReport) -> None:
    [disposal] = report.disposals
    assert (disposal.record_id, disposal.record_type, disposal.contract_ref) == (
        built.disposed,
        "specification",
        "OLD-PR3",
    )
    assert (disposal.action, disposal.approved_by, disposal.executed_at) == (
        "destroy",
        "rob",
        services.clock(),
    )
    checkpoint = report.checkpoint
    assert checkpoint is not None
    assert (checkpoint.tree_size, checkpoint.root_hash) == (
        built.checkpoint.tree_size,
        built.checkpoint.root_hash,
    )
    name, key_id, _ = built.verifier_key.split("+", 2)
    assert (checkpoint.key_name, checkpoint.key_id) == (name, key_id)
    assert checkpoint.verified_by == built.verifier_key


def _check_known_gaps(services: Services, built: Built) -> None:
    """Another explainer can be given: one that explains nothing leaves every gap
    unexplained, and one of its own words is quoted."""
    plain = gather(services, built, explains_nothing).case_files[0]
    assert (len(plain.known), len(plain.unexplained)) == (0, 3)

    def explain(contract_id: int, gap: Gap) -> str | None:
        return "found later" if gap.quarter_start == date(2026, 1, 1) else None

    grant = gather(services, built, explain).case_files[0]
    assert grant.known == [f"{QUARTERLY}: 2026-01-01 to 2026-03-31: found later"]


@contextmanager
def _statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(services.engine, "before_cursor_execute", count)


def _check_queries_do_not_grow(
    client: TestClient, actors: Actors, services: Services, built: Built
) -> None:
    """Four more case files, each with a record and a payment: not one more query."""
    with _statements(services) as before:
        gather(services, built)
    for n in range(4):
        reference = f"MORE-PR{n}"
        add_contract(client, actors.staff, reference, start_date="2025-06-01", status="active")
        add_record(client, actors.staff, reference, "needs_assessment", "2025-05-01")
        pay(client, actors.staff, reference, f"PAY-M{n}", "2025-07-01", 10_000)
    with _statements(services) as after:
        more = gather(services, built)
    assert len(more.case_files) == 6
    assert len(after) == len(before), after
