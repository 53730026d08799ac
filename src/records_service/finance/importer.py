"""Importing a finance system's payment export (CSV): check every row, then add the new.

The file has a header row naming at least ``payment_reference``, ``contract``,
``paid_on`` (``YYYY-MM-DD`` or ``DD/MM/YYYY``) and ``amount`` (pounds, ``1,234.56``;
or ``amount_pence``), and may name ``invoice_reference`` and ``invoice_record``.

The rules:

- every row is checked before anything is written; one bad row (a contract not
  found, an amount that is not money, a reference used twice for different
  payments) and nothing is imported, the report naming each bad row and why;
- a payment whose reference is already recorded with the same contract, day and
  amount is ``unchanged`` and skipped, so importing the same export again adds
  nothing; recorded with different values, it is a ``conflict`` (a bad row);
- a dry run checks and reports exactly as a real run, and writes nothing;
- what is added is audited: one ``finance.import`` entry per thousand payments,
  listing each, with the file's SHA-256.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col

from records_service.audit.actions import AuditAction, ImportedPayment, PaymentImportPayload
from records_service.audit.log import record_event
from records_service.bounds import MAX_PENCE, in_date_range
from records_service.clock import Clock
from records_service.contracts.models import Contract
from records_service.finance.models import Payment
from records_service.finance.schemas import PaymentIn
from records_service.records.models import Record

REQUIRED = ("payment_reference", "contract", "paid_on")
OPTIONAL = ("amount", "amount_pence", "invoice_reference", "invoice_record")
MAX_ROWS = 500_000
PAYMENTS_PER_ENTRY = 1000
_PAYMENTS = SQLModel.metadata.tables["finance_payments"]


class ImportProblem(ValueError):
    """The file as a whole cannot be read (no header, a missing column, too many rows)."""


@dataclass(frozen=True)
class Row:
    """One checked row, ready to add."""

    line: int
    contract: str
    payment: PaymentIn


@dataclass
class ImportReport:
    """What an import did (or, dry, would do): counts, and each bad row with its reason."""

    source: str
    sha256: str
    dry_run: bool
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    added_pence: int = 0

    @property
    def ok(self) -> bool:
        """Whether every row could be imported."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {**self.__dict__, "ok": self.ok}


def read_rows(text: str, report: ImportReport) -> list[Row]:
    """The file's rows, checked one by one; a bad row's reason goes to ``report.errors``."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if not header or missing or not {"amount", "amount_pence"} & set(header):
        wanted = ", ".join(REQUIRED) + ", amount or amount_pence"
        raise ImportProblem(
            f"the header must name {wanted}; it names {', '.join(header) or 'nothing'}"
        )
    reader.fieldnames = header
    rows: list[Row] = []
    for line, raw in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            raise ImportProblem(f"more than {MAX_ROWS} rows: split the export")
        report.rows += 1
        try:
            rows.append(_row(line, raw))
        except (ValueError, ValidationError) as exc:
            report.errors.append(f"line {line}: {_reason(exc)}")
    return rows


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}".removeprefix(": ").replace("Value error, ", "")
    return str(exc)


def _row(line: int, raw: dict[str, Any]) -> Row:
    def cell(name: str) -> str:
        value = raw.get(name)
        return value.strip() if isinstance(value, str) else ""

    if None in raw:
        raise ValueError("more cells than the header names")
    payment = PaymentIn(
        payment_reference=cell("payment_reference"),
        paid_on=_day(cell("paid_on")),
        amount_pence=_amount(cell("amount"), cell("amount_pence")),
        invoice_reference=cell("invoice_reference") or None,
        invoice_record=cell("invoice_record") or None,
    )
    contract = cell("contract")
    if not contract:
        raise ValueError("contract: no contract reference")
    return Row(line, contract, payment)


def _day(text: str) -> date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return in_date_range(datetime.strptime(text, pattern).date())
        except ValueError as exc:
            if "dates the service accepts" in str(exc):
                raise ValueError(f"paid_on: {exc}") from None
    raise ValueError(f"paid_on: {text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _amount(pounds: str, pence: str) -> int:
    if pence:
        if not pence.isdigit() or len(pence) > 15:
            raise ValueError(f"amount_pence: {pence!r} is not a whole number of pence")
        return int(pence)
    cleaned = pounds.replace(",", "").removeprefix("£")
    try:
        value = Decimal(cleaned) * 100 if len(cleaned) <= 20 else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.to_integral_value() or not 0 < value <= MAX_PENCE:
        raise ValueError(f"amount: {pounds!r} is not an amount of pounds and pence above zero")
    return int(value)


@dataclass(frozen=True)
class _Known:
    contracts: dict[str, int | None]
    recorded: dict[str, tuple[int, date, int]]
    invoices: dict[str, int | None]


def _known(session: Session, rows: list[Row]) -> _Known:
    """The contracts, recorded payments and invoice records the rows name."""
    connection = session.connection()
    refs = {row.contract for row in rows}
    contracts = (
        dict(
            connection.execute(
                core_select(col(Contract.reference), col(Contract.id)).where(
                    col(Contract.reference).in_(refs)
                )
            ).all()
        )
        if refs
        else {}
    )
    recorded: dict[str, tuple[int, date, int]] = {}
    wanted = [row.payment.payment_reference for row in rows]
    for start in range(0, len(wanted), 1000):
        for ref, cid, day, amount in connection.execute(
            core_select(
                col(Payment.payment_reference),
                col(Payment.contract_id),
                col(Payment.paid_on),
                col(Payment.amount_pence),
            ).where(col(Payment.payment_reference).in_(wanted[start : start + 1000]))
        ):
            recorded[ref] = (cid, day, amount)
    invoice_ids = {row.payment.invoice_record for row in rows if row.payment.invoice_record}
    invoices = (
        dict(
            connection.execute(
                core_select(col(Record.id), col(Record.contract_id)).where(
                    col(Record.id).in_(invoice_ids), col(Record.record_type) == "invoice"
                )
            ).all()
        )
        if invoice_ids
        else {}
    )
    return _Known(contracts=contracts, recorded=recorded, invoices=invoices)


def _classify(rows: list[Row], known: _Known, report: ImportReport) -> list[tuple[Row, int]]:
    """The rows to add, with their contract ids; unchanged ones counted, bad ones reported."""
    seen: dict[str, tuple[int, date, int]] = {}
    new: list[tuple[Row, int]] = []
    for row in rows:
        payment, where = row.payment, f"line {row.line}"
        cid = known.contracts.get(row.contract)
        if cid is None:
            report.errors.append(f"{where}: no contract {row.contract!r}")
            continue
        values = (cid, payment.paid_on, payment.amount_pence)
        earlier = known.recorded.get(payment.payment_reference) or seen.get(
            payment.payment_reference
        )
        if earlier is not None:
            if earlier != values:
                report.errors.append(
                    f"{where}: payment {payment.payment_reference} is already recorded with "
                    "another contract, day or amount (conflict)"
                )
            else:
                report.unchanged += 1
            continue
        if payment.invoice_record and known.invoices.get(payment.invoice_record) != cid:
            report.errors.append(
                f"{where}: invoice_record {payment.invoice_record} is not an invoice on the "
                f"file of {row.contract}"
            )
            continue
        seen[payment.payment_reference] = values
        new.append((row, cid))
    return new


def import_payments(
    session: Session,
    text: str,
    *,
    source: str,
    sha256: str,
    actor: str,
    clock: Clock,
    dry_run: bool = False,
) -> ImportReport:
    """Check the export ``text`` and add its new payments in the caller's transaction.

    Nothing is written when any row is bad or on a dry run; ``ImportProblem`` when
    the file itself cannot be read.
    """
    report = ImportReport(source=source, sha256=sha256, dry_run=dry_run)
    rows = read_rows(text, report)
    new = _classify(rows, _known(session, rows), report)
    if report.errors:
        report.errors.sort(key=lambda error: int(error.split(":", 1)[0].removeprefix("line ")))
        return report
    report.added = len(new)
    report.added_pence = sum(row.payment.amount_pence for row, _ in new)
    if not dry_run:
        for batch in _batches(new):
            _insert(session, batch, report, actor, clock)
    return report


def _batches(new: list[tuple[Row, int]]) -> Iterator[list[tuple[Row, int]]]:
    for start in range(0, len(new), PAYMENTS_PER_ENTRY):
        yield new[start : start + PAYMENTS_PER_ENTRY]


def _insert(
    session: Session, batch: list[tuple[Row, int]], report: ImportReport, actor: str, clock: Clock
) -> None:
    now, source = clock(), f"import {report.source}"[:200]
    rows = [
        {
            "contract_id": cid,
            **_columns(row.payment),
            "source": source,
            "recorded_at": now,
            "recorded_by": actor,
        }
        for row, cid in batch
    ]
    session.connection().execute(insert(_PAYMENTS), rows)
    listed = [ImportedPayment(contract=row.contract, **_listed(row.payment)) for row, _ in batch]
    payload = PaymentImportPayload(source=report.source, sha256=report.sha256, payments=listed)
    record_event(
        session,
        actor=actor,
        action=AuditAction.FINANCE_IMPORT,
        subject=f"finance:import:{report.sha256[:16]}",
        payload=payload,
        clock=clock,
    )


def _columns(payment: PaymentIn) -> dict[str, Any]:
    return {
        "payment_reference": payment.payment_reference,
        "paid_on": payment.paid_on,
        "amount_pence": payment.amount_pence,
        "invoice_reference": payment.invoice_reference,
        "invoice_record_id": payment.invoice_record,
    }


def _listed(payment: PaymentIn) -> dict[str, Any]:
    return {
        "payment_reference": payment.payment_reference,
        "paid_on": payment.paid_on.isoformat(),
        "amount_pence": payment.amount_pence,
        "invoice_reference": payment.invoice_reference,
        "invoice_record": payment.invoice_record,
    }
