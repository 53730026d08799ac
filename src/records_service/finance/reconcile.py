"""Reconciling a contract's money: what the retention job reports as findings.

:func:`load_money_facts` reads every contract's totals as at a day in a handful of
grouped queries; :func:`money_issues` is pure and turns one contract's facts into
issues, each with the numbers involved:

- ``overpaid``: paid (less recoveries) beyond the award plus approved variations;
- ``spend_behind_profile``: the spend the provider reported, to the end of its latest
  reported period, lags what had been paid by that day by more than the threshold;
- ``unspent_at_closure``: a closed or terminated contract whose payments exceed the
  reported spend and the recoveries recorded (a recovery, with its decision, closes it);
- ``payment_without_invoice``: a payment with no invoice record, past a grace period;
- ``spend_unreported``: a monitoring return with no spend figure, past a grace period,
  on a contract whose money is kept here (a payment or a spend report is recorded):
  returns of files from before the service kept money are not all reported at once.

The thresholds come from the schedule file's ``[reconciliation]`` table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from records_service.contracts.models import Contract
from records_service.finance.models import Payment, Recovery, SpendReport, Variation
from records_service.records.models import DISPOSED_STATUSES, Record

CLOSED_STATUSES = frozenset({"closed", "terminated"})


@dataclass(frozen=True)
class Thresholds:
    """When a difference in money becomes a finding (the schedule's ``[reconciliation]``)."""

    overpaid_tolerance_pence: int = 0
    spend_behind_profile_percent: int = 25
    spend_behind_profile_min_pence: int = 100_000
    unspent_at_closure_tolerance_pence: int = 0
    invoice_grace_days: int = 30
    spend_report_grace_days: int = 30

    def to_dict(self) -> dict[str, int]:
        """The thresholds by name (served with the schedule)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class UninvoicedPayment:
    """A payment with no invoice record linked."""

    payment_reference: str
    paid_on: date
    amount_pence: int
    invoice_reference: str | None


@dataclass(frozen=True)
class UnreportedReturn:
    """A monitoring return with no spend figure recorded."""

    record_id: str
    record_date: date


@dataclass
class MoneyFacts:
    """One contract's money as at a day, as reconciliation needs it."""

    reference: str
    status: str
    award_pence: int = 0
    variations_pence: int = 0
    paid_pence: int = 0
    recovered_pence: int = 0
    reported_spent_pence: int = 0
    last_reported_end: date | None = None
    paid_by_last_reported_end: int = 0
    uninvoiced: list[UninvoicedPayment] = field(default_factory=list)
    unreported: list[UnreportedReturn] = field(default_factory=list)

    @property
    def value_pence(self) -> int:
        """Award plus variations."""
        return self.award_pence + self.variations_pence


@dataclass(frozen=True)
class MoneyIssue:
    """A reconciliation finding before it meets the findings table."""

    kind: str
    key: str
    summary: str
    details: dict[str, Any]
    record_id: str | None = None


def pounds(pence: int) -> str:
    """Pence as pounds for a sentence: ``£12,345.67`` (``-£5.00`` below zero)."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}.{part:02d}"


def money_issues(facts: MoneyFacts, thresholds: Thresholds, at: date) -> list[MoneyIssue]:
    """Every reconciliation issue of one contract as at ``at``."""
    issues = [
        *_overpaid(facts, thresholds),
        *_behind_profile(facts, thresholds),
        *_unspent_at_closure(facts, thresholds),
    ]
    invoice_due = at - timedelta(days=thresholds.invoice_grace_days)
    issues += [_without_invoice(facts, p) for p in facts.uninvoiced if p.paid_on <= invoice_due]
    report_due = at - timedelta(days=thresholds.spend_report_grace_days)
    issues += [_unreported(facts, r) for r in facts.unreported if r.record_date <= report_due]
    return issues


def _overpaid(facts: MoneyFacts, thresholds: Thresholds) -> list[MoneyIssue]:
    net_paid = facts.paid_pence - facts.recovered_pence
    over = net_paid - facts.value_pence
    if over <= thresholds.overpaid_tolerance_pence:
        return []
    summary = (
        f"{facts.reference}: paid {pounds(net_paid)} against a value of "
        f"{pounds(facts.value_pence)} (award {pounds(facts.award_pence)}, variations "
        f"{pounds(facts.variations_pence)}): overpaid by {pounds(over)}"
    )
    details = {
        "award_pence": facts.award_pence,
        "variations_pence": facts.variations_pence,
        "value_pence": facts.value_pence,
        "paid_pence": facts.paid_pence,
        "recovered_pence": facts.recovered_pence,
        "overpaid_pence": over,
        "tolerance_pence": thresholds.overpaid_tolerance_pence,
    }
    return [MoneyIssue("overpaid", f"overpaid:{facts.reference}", summary, details)]


def _behind_profile(facts: MoneyFacts, thresholds: Thresholds) -> list[MoneyIssue]:
    if facts.last_reported_end is None:
        return []
    paid, spent = facts.paid_by_last_reported_end, facts.reported_spent_pence
    lag = paid - spent
    allowed = max(
        paid * thresholds.spend_behind_profile_percent // 100,
        thresholds.spend_behind_profile_min_pence,
    )
    if lag <= allowed:
        return []
    percent = lag * 100 // paid if paid else 0
    summary = (
        f"{facts.reference}: reported spend {pounds(spent)} to {facts.last_reported_end} "
        f"lags payments of {pounds(paid)} by then by {pounds(lag)} ({percent}%; "
        f"allowed {pounds(allowed)})"
    )
    details = {
        "period_end": facts.last_reported_end.isoformat(),
        "paid_pence": paid,
        "reported_spent_pence": spent,
        "lag_pence": lag,
        "lag_percent": percent,
        "allowed_pence": allowed,
        "threshold_percent": thresholds.spend_behind_profile_percent,
        "threshold_min_pence": thresholds.spend_behind_profile_min_pence,
    }
    key = f"spend_behind_profile:{facts.reference}"
    return [MoneyIssue("spend_behind_profile", key, summary, details)]


def _unspent_at_closure(facts: MoneyFacts, thresholds: Thresholds) -> list[MoneyIssue]:
    if facts.status not in CLOSED_STATUSES:
        return []
    unspent = facts.paid_pence - facts.reported_spent_pence - facts.recovered_pence
    if unspent <= thresholds.unspent_at_closure_tolerance_pence:
        return []
    summary = (
        f"{facts.reference}: {facts.status} with {pounds(unspent)} unspent (paid "
        f"{pounds(facts.paid_pence)}, reported spent {pounds(facts.reported_spent_pence)}, "
        f"recovered {pounds(facts.recovered_pence)}); no recovery recorded for it"
    )
    details = {
        "status": facts.status,
        "paid_pence": facts.paid_pence,
        "reported_spent_pence": facts.reported_spent_pence,
        "recovered_pence": facts.recovered_pence,
        "unspent_pence": unspent,
        "tolerance_pence": thresholds.unspent_at_closure_tolerance_pence,
    }
    key = f"unspent_at_closure:{facts.reference}"
    return [MoneyIssue("unspent_at_closure", key, summary, details)]


def _without_invoice(facts: MoneyFacts, payment: UninvoicedPayment) -> MoneyIssue:
    invoice = payment.invoice_reference
    summary = (
        f"{facts.reference}: payment {payment.payment_reference} of "
        f"{pounds(payment.amount_pence)} on {payment.paid_on} has no invoice on file"
        + (f" (invoice reference {invoice})" if invoice else "")
    )
    details = {
        "payment_reference": payment.payment_reference,
        "paid_on": payment.paid_on.isoformat(),
        "amount_pence": payment.amount_pence,
        "invoice_reference": invoice,
    }
    key = f"payment_without_invoice:{payment.payment_reference}"
    return MoneyIssue("payment_without_invoice", key, summary, details)


def _unreported(facts: MoneyFacts, item: UnreportedReturn) -> MoneyIssue:
    summary = (
        f"{facts.reference}: monitoring return {item.record_id} of {item.record_date} "
        "has no spend figure recorded"
    )
    details = {"record_id": item.record_id, "record_date": item.record_date.isoformat()}
    key = f"spend_unreported:{item.record_id}"
    return MoneyIssue("spend_unreported", key, summary, details, record_id=item.record_id)


def load_money_facts(
    session: Session, at: date, contract_ids: Iterable[int]
) -> dict[int, MoneyFacts]:
    """The money facts of the contracts in ``contract_ids`` as at ``at``.

    Entries dated after ``at`` are left out, so a run as of a past day sees the money
    as it stood then. Contracts with no money and no returns get facts too (an award
    alone is never a finding, but a closed contract is checked all the same).
    """
    wanted = set(contract_ids)
    facts: dict[int, MoneyFacts] = {}
    for cid, reference, status, award in session.execute(
        core_select(
            col(Contract.id),
            col(Contract.reference),
            col(Contract.status),
            col(Contract.awarded_value_pence),
        )
    ):
        if cid in wanted:
            facts[cid] = MoneyFacts(reference, status, award_pence=award or 0)
    _add_totals(session, at, facts)
    _add_profile(session, at, facts)
    _add_uninvoiced(session, at, facts)
    _add_unreported(session, at, facts)
    return facts


def _grouped(session: Session, amount: Any, contract: Any, *where: Any) -> dict[int, int]:
    rows = session.execute(core_select(contract, func.sum(amount)).where(*where).group_by(contract))
    return {cid: int(total or 0) for cid, total in rows}


def _add_totals(session: Session, at: date, facts: dict[int, MoneyFacts]) -> None:
    sums: dict[str, dict[int, int]] = {
        "variations_pence": _grouped(
            session,
            col(Variation.change_pence),
            col(Variation.contract_id),
            col(Variation.decided_on) <= at,
        ),
        "paid_pence": _grouped(
            session, col(Payment.amount_pence), col(Payment.contract_id), col(Payment.paid_on) <= at
        ),
        "recovered_pence": _grouped(
            session,
            col(Recovery.amount_pence),
            col(Recovery.contract_id),
            col(Recovery.recovered_on) <= at,
        ),
        "reported_spent_pence": _grouped(
            session,
            col(SpendReport.spent_pence),
            col(SpendReport.contract_id),
            col(SpendReport.period_end) <= at,
            col(SpendReport.spent_pence).is_not(None),
        ),
    }
    for name, by_contract in sums.items():
        for cid, total in by_contract.items():
            if cid in facts:
                setattr(facts[cid], name, total)


def _add_profile(session: Session, at: date, facts: dict[int, MoneyFacts]) -> None:
    """The end of each contract's latest reported spend, and what was paid by then."""
    reported = (
        core_select(
            col(SpendReport.contract_id), func.max(col(SpendReport.period_end)).label("last")
        )
        .where(col(SpendReport.period_end) <= at, col(SpendReport.spent_pence).is_not(None))
        .group_by(col(SpendReport.contract_id))
        .subquery()
    )
    for cid, last in session.execute(core_select(reported.c.contract_id, reported.c.last)):
        if cid in facts:
            facts[cid].last_reported_end = last
    paid = session.execute(
        core_select(col(Payment.contract_id), func.sum(col(Payment.amount_pence)))
        .join(
            reported,
            and_(
                reported.c.contract_id == col(Payment.contract_id),
                col(Payment.paid_on) <= reported.c.last,
            ),
        )
        .group_by(col(Payment.contract_id))
    )
    for cid, total in paid:
        if cid in facts:
            facts[cid].paid_by_last_reported_end = int(total or 0)


def _add_uninvoiced(session: Session, at: date, facts: dict[int, MoneyFacts]) -> None:
    rows = session.execute(
        core_select(
            col(Payment.contract_id),
            col(Payment.payment_reference),
            col(Payment.paid_on),
            col(Payment.amount_pence),
            col(Payment.invoice_reference),
        )
        .where(col(Payment.invoice_record_id).is_(None), col(Payment.paid_on) <= at)
        .order_by(col(Payment.paid_on), col(Payment.id))
    )
    for cid, reference, paid_on, amount, invoice in rows:
        if cid in facts:
            facts[cid].uninvoiced.append(UninvoicedPayment(reference, paid_on, amount, invoice))


def _add_unreported(session: Session, at: date, facts: dict[int, MoneyFacts]) -> None:
    """Monitoring returns with no spend report, or one without a spend figure."""
    reported = core_select(col(SpendReport.return_record_id)).where(
        col(SpendReport.return_record_id).is_not(None), col(SpendReport.spent_pence).is_not(None)
    )
    tracked = core_select(col(Payment.contract_id)).union(core_select(col(SpendReport.contract_id)))
    rows = session.execute(
        core_select(col(Record.contract_id), col(Record.id), col(Record.record_date))
        .where(
            col(Record.record_type) == "monitoring_return",
            col(Record.contract_id).is_not(None),
            col(Record.record_date) <= at,
            col(Record.status).not_in(DISPOSED_STATUSES),
            col(Record.id).not_in(reported),
            col(Record.contract_id).in_(tracked),
        )
        .order_by(col(Record.record_date), col(Record.id))
    )
    grouped: dict[int, list[UnreportedReturn]] = defaultdict(list)
    for cid, rid, day in rows:
        grouped[cid].append(UnreportedReturn(rid, day))
    for cid, items in grouped.items():
        if cid in facts:
            facts[cid].unreported.extend(items)
