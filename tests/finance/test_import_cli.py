"""``records-service finance import`` and ``report`` on a real database (SQLite and
PostgreSQL): the dry run, the report, idempotence, one bad row importing nothing, and
every added payment audited."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from factories import Actors
from records_service.audit.models import AuditEntry
from records_service.cli import main
from records_service.runtime.services import Services
from records_service.settings import Settings
from retention.casefiles import add_contract, add_record

EXPORT = """Payment_Reference,Contract,Paid_On,Amount,Invoice_Reference,Invoice_Record
PAY-0001,IMP-001,2025-04-10,"12,500.00",INV-77,{invoice}
PAY-0002,IMP-001,10/07/2025,12500,INV-78,
PAY-0003,IMP-002,2025-07-11,£999.99,,
"""


def cli(settings: Settings, *args: str) -> Result:
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _payments(client: TestClient, headers: dict[str, str], contract: str) -> list[tuple[str, int]]:
    body = client.get(f"/api/contracts/{contract}/payments", headers=headers).json()
    return [(p["payment_reference"], p["amount_pence"]) for p in body["items"]]


def _imports(services: Services) -> list[AuditEntry]:
    with Session(services.engine) as session:
        statement = select(AuditEntry).where(AuditEntry.action == "finance.import")
        return list(session.exec(statement.order_by(col(AuditEntry.idx))))


def test_import_dry_run_then_import_then_again(
    client: TestClient, actors: Actors, services: Services, settings: Settings, tmp_path: Path
) -> None:
    add_contract(client, actors.staff, "IMP-001")
    add_contract(client, actors.staff, "IMP-002")
    invoice = add_record(client, actors.staff, "IMP-001", "invoice", "2025-04-01")
    export = tmp_path / "payments.csv"
    export.write_text(EXPORT.format(invoice=invoice), encoding="utf-8")

    dry = cli(settings, "finance", "import", str(export), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert (report["rows"], report["added"], report["unchanged"], report["added_pence"]) == (
        3,
        3,
        0,
        1_250_000 + 1_250_000 + 99_999,
    )
    assert _payments(client, actors.staff, "IMP-001") == [] and _imports(services) == []

    real = cli(settings, "finance", "import", str(export))
    assert real.exit_code == 0, real.output
    assert "added 3 payments (£25,999.99)" in real.output
    assert _payments(client, actors.staff, "IMP-001") == [
        ("PAY-0001", 1_250_000),
        ("PAY-0002", 1_250_000),
    ]
    [entry] = _imports(services)
    listed = json.loads(entry.details)["payments"]
    assert [(p["payment_reference"], p["contract"], p["invoice_record"]) for p in listed] == [
        ("PAY-0001", "IMP-001", invoice),
        ("PAY-0002", "IMP-001", None),
        ("PAY-0003", "IMP-002", None),
    ]

    again = cli(settings, "finance", "import", str(export), "--json")
    assert again.exit_code == 0, again.output
    assert (json.loads(again.output)["added"], json.loads(again.output)["unchanged"]) == (0, 3)
    assert len(_imports(services)) == 1 and len(_payments(client, actors.staff, "IMP-001")) == 2

    table = cli(settings, "finance", "report", "--as-at", "2025-12-31", "--csv")
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[1:] == [
        "2025-12-31,IMP-001,active,4500000,0,4500000,0,2500000,0,0,2500000",
        "2025-12-31,IMP-002,active,4500000,0,4500000,0,99999,0,0,99999",
    ]


def test_one_bad_row_imports_nothing(
    client: TestClient, actors: Actors, services: Services, settings: Settings, tmp_path: Path
) -> None:
    add_contract(client, actors.staff, "IMP-001")
    rows = [
        "payment_reference,contract,paid_on,amount",
        "PAY-1,IMP-001,2025-04-10,100.00",
        "PAY-2,NO-SUCH,2025-04-10,100.00",
        "PAY-3,IMP-001,31/02/2025,100.00",
        "PAY-4,IMP-001,2025-04-10,-5",
        "PAY-1,IMP-001,2025-04-11,100.00",
        "PAY-5,IMP-001,2025-04-10,1.001",
    ]
    export = tmp_path / "bad.csv"
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli(settings, "finance", "import", str(export))
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        "imported nothing: 5 rows cannot be imported",
        "already recorded, unchanged: 0",
        "error: line 3: no contract 'NO-SUCH'",
        "error: line 4: paid_on: '31/02/2025' is not a date (YYYY-MM-DD or DD/MM/YYYY)",
        "error: line 5: amount: '-5' is not an amount of pounds and pence above zero",
        "error: line 6: payment PAY-1 is already recorded with another contract, day or "
        "amount (conflict)",
        "error: line 7: amount: '1.001' is not an amount of pounds and pence above zero",
    ]
    assert _payments(client, actors.staff, "IMP-001") == [] and _imports(services) == []
    no_header = tmp_path / "no-header.csv"
    no_header.write_text("PAY-1;IMP-001\n", encoding="utf-8")
    refused = cli(settings, "finance", "import", str(no_header))
    assert refused.exit_code == 1 and "the header must name payment_reference" in refused.output
