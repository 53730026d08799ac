"""The money report: every contract's award, variations, schedule, payments, reported
spend, recoveries and what is unspent, as at a day (the CLI prints it, as text or CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from records_service.contracts.models import Contract
from records_service.finance.models import Instalment
from records_service.finance.reconcile import load_money_facts, pounds


@dataclass(frozen=True)
class ReportRow:
    """One contract's money as at the report's day, in pence."""

    contract: str
    status: str
    award: int
    variations: int
    value: int
    scheduled_to_date: int
    paid: int
    reported_spent: int
    recovered: int

    @property
    def unspent(self) -> int:
        """Paid, less reported spend and recoveries."""
        return self.paid - self.reported_spent - self.recovered


COLUMNS = (
    "contract",
    "status",
    "award",
    "variations",
    "value",
    "scheduled_to_date",
    "paid",
    "reported_spent",
    "recovered",
    "unspent",
)


def money_report(session: Session, at: date, contract: str | None = None) -> list[ReportRow]:
    """Each contract's row (or only ``contract``'s), by reference."""
    statement = core_select(col(Contract.id))
    if contract is not None:
        statement = statement.where(col(Contract.reference) == contract)
    ids = list(session.execute(statement).scalars())
    facts = load_money_facts(session, at, ids)
    scheduled = dict(
        session.execute(
            core_select(col(Instalment.contract_id), func.sum(col(Instalment.amount_pence)))
            .where(col(Instalment.due_on) <= at)
            .group_by(col(Instalment.contract_id))
        ).all()
    )
    rows = [
        ReportRow(
            f.reference,
            f.status,
            f.award_pence,
            f.variations_pence,
            f.value_pence,
            int(scheduled.get(cid) or 0),
            f.paid_pence,
            f.reported_spent_pence,
            f.recovered_pence,
        )
        for cid, f in facts.items()
    ]
    return sorted(rows, key=lambda row: row.contract)


def _values(row: ReportRow) -> list[int]:
    return [
        row.award,
        row.variations,
        row.value,
        row.scheduled_to_date,
        row.paid,
        row.reported_spent,
        row.recovered,
        row.unspent,
    ]


def report_csv(rows: list[ReportRow], at: date) -> str:
    """The report as CSV: amounts in pence, with the day it is as at in every row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("as_at", *COLUMNS))
    for row in rows:
        writer.writerow([at.isoformat(), row.contract, row.status, *_values(row)])
    return out.getvalue()


def report_text(rows: list[ReportRow], at: date) -> str:
    """The report as a text table, amounts in pounds, with a total line."""
    table = [list(COLUMNS)]
    for row in rows:
        table.append([row.contract, row.status, *(pounds(v) for v in _values(row))])
    totals = [sum(column) for column in zip(*(_values(row) for row in rows), strict=True)]
    if rows:
        table.append(["total", "", *(pounds(v) for v in totals)])
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = [f"money as at {at.isoformat()}"]
    for line in table:
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(line[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
