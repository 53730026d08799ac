"""Money on the contract page: the numbers and chart, the entries, the findings beside
them, and reading what its forms are typed in (amounts in pounds, outcome figures).

The page's section is built by :func:`money_section`, which ``contracts.py`` calls;
its forms are read and recorded by ``money_forms.py``, amounts typed in pounds by
:func:`form_pence` and outcome figures by :func:`form_outcomes`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from records_service.auth.models import User
from records_service.auth.roles import Permission, allows
from records_service.bounds import MAX_PENCE
from records_service.contracts.models import Contract
from records_service.finance.models import (
    AwardKind,
    Instalment,
    Payment,
    Recovery,
    SpendReport,
    Variation,
)
from records_service.finance.service import (
    get_award,
    list_entries,
    money_summary,
    spend_public,
)
from records_service.pagination import PageParams
from records_service.retention.findings import FindingFilters, list_findings
from records_service.retention.models import FindingKind
from records_service.web.pages._forms import FormProblem
from records_service.web.pages._money_chart import money_chart

MONEY_KINDS = frozenset(
    {
        FindingKind.OVERPAID.value,
        FindingKind.SPEND_BEHIND_PROFILE.value,
        FindingKind.UNSPENT_AT_CLOSURE.value,
        FindingKind.PAYMENT_WITHOUT_INVOICE.value,
        FindingKind.SPEND_UNREPORTED.value,
        FindingKind.PUBLICATION_OVERDUE.value,
        FindingKind.PUBLISHED_COPY_MISSING.value,
    }
)
SHOWN = PageParams(page=1, page_size=100)  # the latest entries of each kind on the page
AWARD_KINDS = [
    (AwardKind.CONTRACT.value, "Contract"),
    (AwardKind.GRANT.value, "Grant"),
    (AwardKind.CRIME_AND_DISORDER_GRANT.value, "Crime and disorder reduction grant"),
]


def money_section(session: Session, contract: Contract, user: User, today: date) -> dict[str, Any]:
    """Everything the contract page's money section shows to ``user``."""
    summary = money_summary(session, contract, today)
    entries = {
        name: list_entries(session, table, contract, SHOWN)
        for name, table in (
            ("variations", Variation),
            ("instalments", Instalment),
            ("payments", Payment),
            ("recoveries", Recovery),
        )
    }
    spend, spend_total = list_entries(session, SpendReport, contract, SHOWN)
    findings = None
    if allows(user.role_set, Permission.READ_AUDIT):
        rows, _ = list_findings(session, filters=FindingFilters(contract=contract.reference))
        findings = [row for row in rows if row.kind in MONEY_KINDS]
    return {
        "summary": summary,
        "chart": money_chart(summary),
        "award": get_award(session, contract),
        "award_kinds": AWARD_KINDS,
        **{name: rows for name, (rows, _) in entries.items()},
        "totals": {name: total for name, (_, total) in entries.items()} | {"spend": spend_total},
        "spend": [spend_public(row) for row in spend],
        "findings": findings,
    }


def form_pence(text: str, name: str, *, signed: bool = False) -> int | None:
    """Pounds typed by a person (``£12,500.50``, ``-1,000``) as pence; ``None`` when blank."""
    cleaned = text.strip().replace(",", "").replace("£", "").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned) * 100 if len(cleaned) <= 40 else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    low = -MAX_PENCE if signed else 0
    if not value.is_finite() or value != value.to_integral_value() or not low <= value <= MAX_PENCE:
        raise FormProblem(f"{name}: enter an amount in pounds, for example 12,500.00")
    return int(value)


def form_outcomes(text: str) -> dict[str, int]:
    """Outcome figures typed one a line, ``people supported: 120``."""
    figures: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, number = line.replace("=", ":").rpartition(":")
        if not sep or not name.strip() or not number.strip().isdigit():
            raise FormProblem(
                f"outcomes: write each figure as 'name: number', not {line.strip()!r}"
            )
        figures[name.strip()] = int(number.strip())
    return figures
