"""What the Panel's report says about a period, as data (rendering is ``render``'s).

:func:`gather_panel` reads everything in a fixed number of queries, whatever the
number of contracts, records or payments (the benchmark holds it to that):

- the contracts and grants **awarded** in the period, with value, provider, funding
  stream and the decision that awarded each;
- each **case file** in the period (awarded in it, or with a term that overlaps it):
  its money as at the period's last day (value, paid, reported spent, recovered,
  unspent; paid and reported in the period; the outcome figures reported for
  periods ending in it) and its **completeness** as at that day, each missing record
  either a known gap (with what happened) or unexplained;
- the **open findings** at the time of the report, by kind;
- the **disposals** carried out in the period;
- the audit log's latest **signed checkpoint** at the time of the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session

from records_service.reports import _queries as q
from records_service.reports.known_gaps import GapExplainer, known_gaps
from records_service.reports.lines import (
    FINDING_TITLES,
    CaseFileLine,
    FindingLine,
    PanelReport,
    Period,
)
from records_service.retention.completeness import Gap, RecordSummary, evaluate_contract
from records_service.retention.job import cyclic_gc_paused
from records_service.retention.policy import ContractFacts, contract_problems
from records_service.retention.schedule import RetentionSchedule


def gather_panel(
    session: Session,
    *,
    period: Period,
    schedule: RetentionSchedule,
    produced_at: datetime,
    produced_by: str,
    verifier_keys: Sequence[str] = (),
    explain: GapExplainer | None = None,
) -> PanelReport:
    """The Panel's report for ``period``, as the data stood at ``produced_at``.

    Money and completeness are as at the period's last day (or the day of the
    report, if the period has not ended); findings and the checkpoint are as they
    stand when the report is made. ``verifier_keys`` are the trusted keys the
    checkpoint is checked against; ``explain`` says which gaps are known (by
    default, the register's answer: see ``known_gaps``).
    """
    # A large period keeps a few hundred thousand small objects (every record's type
    # and date), which the cyclic collector would re-scan again and again.
    with cyclic_gc_paused():
        return _gather(session, period, schedule, produced_at, produced_by, verifier_keys, explain)


def _gather(
    session: Session,
    period: Period,
    schedule: RetentionSchedule,
    produced_at: datetime,
    produced_by: str,
    verifier_keys: Sequence[str],
    explain: GapExplainer | None,
) -> PanelReport:
    as_at = min(period.end, produced_at.date())
    found = q.case_files(session, period)
    files = {cid: line for cid, (_, line) in found.items()}
    q.add_money(session, files, as_at, period)
    on_file = q.records_on_file(session, period, as_at)
    explainer = explain or known_gaps(session)
    for cid, (facts, line) in found.items():
        _completeness(line, facts, on_file.get(cid, []), schedule, as_at, cid, explainer)
    values = {cid: line.value_pence for cid, line in files.items()}
    return PanelReport(
        period=period,
        as_at=as_at,
        produced_at=produced_at,
        produced_by=produced_by,
        schedule_version=schedule.version,
        awards=q.awards(session, period, values),
        case_files=sorted(files.values(), key=lambda line: line.reference),
        findings=_by_kind(q.open_findings(session)),
        disposals=q.disposals(session, period),
        checkpoint=q.signed_checkpoint(session, verifier_keys),
    )


def _completeness(
    line: CaseFileLine,
    facts: ContractFacts,
    records: Sequence[RecordSummary],
    schedule: RetentionSchedule,
    as_at: date,
    contract_id: int,
    explain: GapExplainer,
) -> None:
    """One file's missing records, each known (with what happened) or unexplained."""
    line.records = len(records)
    problems = contract_problems(facts, schedule)
    if problems:
        line.problem = "; ".join(problems)
        return
    for gap in evaluate_contract(facts, records, schedule.completeness, as_at):
        why = explain(contract_id, gap)
        if why is None:
            line.unexplained.append(describe_gap(gap))
        else:
            line.known.append(f"{describe_gap(gap)}: {why}")


def describe_gap(gap: Gap) -> str:
    """A missing record in a few words: the rule's label, and the quarter or deadline."""
    if gap.quarter_start is not None and gap.quarter_end is not None:
        return f"{gap.label}: {gap.quarter_start} to {gap.quarter_end}"
    if gap.due_date is not None:
        return f"{gap.label} (due {gap.due_date})"
    return gap.label


def _by_kind(rows: Sequence[FindingLine]) -> dict[str, list[FindingLine]]:
    """Open findings grouped by kind, kinds in the order of ``FINDING_TITLES``."""
    order = {kind: n for n, kind in enumerate(FINDING_TITLES)}
    grouped: dict[str, list[FindingLine]] = {}
    for line in sorted(rows, key=lambda r: (order.get(r.kind, len(order)), r.kind)):
        grouped.setdefault(line.kind, []).append(line)
    return grouped
