"""The lines of the Panel's report: plain data, filled by ``_queries`` and ``panel``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from records_service.errors import InvalidInput
from records_service.retention.models import FindingKind

FINDING_TITLES: dict[str, str] = {
    FindingKind.MISSING_RECORD: "Records missing from a case file",
    FindingKind.OVERDUE_RETURN: "Monitoring returns overdue",
    FindingKind.OVERPAID: "Paid beyond the award and variations",
    FindingKind.SPEND_BEHIND_PROFILE: "Reported spend behind payments",
    FindingKind.UNSPENT_AT_CLOSURE: "Unspent at closure, no recovery recorded",
    FindingKind.PAYMENT_WITHOUT_INVOICE: "Payments without an invoice on file",
    FindingKind.SPEND_UNREPORTED: "Monitoring returns without a spend figure",
    FindingKind.PUBLICATION_OVERDUE: "Publications overdue (Specified Information Order)",
    FindingKind.PUBLISHED_COPY_MISSING: "Published items with no copy held",
    FindingKind.EXPIRING: "Records whose retention ends soon",
    FindingKind.REVIEW_DUE: "Records due for review",
    FindingKind.DISPOSITION_DUE: "Disposals awaiting approval",
    FindingKind.FIXITY_FAILURE: "Stored content missing or changed",
    FindingKind.MISSING_REPLICA: "Replica copies missing",
    FindingKind.JOB_ERROR: "Checks that could not run",
}


@dataclass(frozen=True)
class Period:
    """The days a report covers, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InvalidInput(
                f"the period starts on {self.start}, after it ends on {self.end}",
                errors=[{"field": "from", "msg": "must be on or before 'to'"}],
            )


@dataclass(frozen=True)
class AwardLine:
    """A contract or grant awarded in the period."""

    reference: str
    title: str
    provider: str | None
    funding_stream: str | None
    kind: str
    awarded_on: date
    award_pence: int
    value_pence: int  # with the variations decided by the period's end
    decision_id: str | None
    decision_title: str | None


@dataclass
class CaseFileLine:
    """One case file's money, outcomes and completeness."""

    reference: str
    title: str
    provider: str | None
    status: str
    value_pence: int = 0
    paid_pence: int = 0
    reported_spent_pence: int = 0
    recovered_pence: int = 0
    paid_in_period_pence: int = 0
    spent_in_period_pence: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    records: int = 0
    unexplained: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def unspent_pence(self) -> int:
        """Paid, less reported spend and recoveries."""
        return self.paid_pence - self.reported_spent_pence - self.recovered_pence

    @property
    def complete(self) -> bool:
        """Nothing missing, known or not, and the file could be checked."""
        return not self.unexplained and not self.known and self.problem is None


@dataclass(frozen=True)
class FindingLine:
    """An open finding."""

    kind: str
    contract_ref: str | None
    summary: str
    first_seen: datetime


@dataclass(frozen=True)
class DisposalLine:
    """A record destroyed or transferred in the period."""

    record_id: str
    title: str
    record_type: str
    contract_ref: str | None
    action: str
    rule: str
    approved_by: str
    executed_at: datetime


@dataclass(frozen=True)
class CheckpointLine:
    """The audit log's latest signed checkpoint: enough to check the log against later."""

    origin: str
    tree_size: int
    root_hash: bytes
    signed_at: datetime
    key_name: str
    key_id: str
    verified_by: str | None  # the trusted verifier key it verified against, if any


@dataclass(frozen=True)
class PanelReport:
    """Everything one Panel's report says."""

    period: Period
    as_at: date
    produced_at: datetime
    produced_by: str
    schedule_version: str
    awards: list[AwardLine]
    case_files: list[CaseFileLine]
    findings: dict[str, list[FindingLine]]
    disposals: list[DisposalLine]
    checkpoint: CheckpointLine | None

    @property
    def findings_open(self) -> int:
        """How many findings were open at the time of the report."""
        return sum(len(lines) for lines in self.findings.values())

    def total(self, name: str) -> int:
        """The sum of one money field over the case files (``value_pence``, ...)."""
        return sum(int(getattr(line, name)) for line in self.case_files)

    @property
    def awarded_pence(self) -> int:
        """The value of everything awarded in the period."""
        return sum(line.value_pence for line in self.awards)

    @property
    def gap_counts(self) -> tuple[int, int, int]:
        """Complete files, unexplained missing records and known gaps."""
        complete = sum(1 for line in self.case_files if line.complete)
        unexplained = sum(len(line.unexplained) for line in self.case_files)
        return complete, unexplained, sum(len(line.known) for line in self.case_files)

    def outcome_totals(self) -> dict[str, int]:
        """Each outcome figure summed over the case files."""
        totals: Counter[str] = Counter()
        for line in self.case_files:
            totals.update(line.outcomes)
        return dict(sorted(totals.items()))
