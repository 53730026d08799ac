"""Where the Panel's report learns which missing records are known gaps.

A completeness gap (:class:`~records_service.retention.Gap`) is *known* when the
register of known gaps (:mod:`records_service.retention.known_gaps`) explains it: an
open known gap of a record type the gap asks for and, for a quarterly return, a
period that overlaps the quarter. It is *unexplained* otherwise. The report asks one
question, through :data:`GapExplainer`: "does anything explain this gap of this
contract, and in what words?". :func:`known_gaps` answers it for one report from the
register's open gaps, read once (one query), with the same rule and the same words
as the contract page's checklist and the retention findings.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from records_service.retention.completeness import Gap
from records_service.retention.known_gaps import describe, explaining, open_gaps

# (contract id, gap) -> what explains the gap, in a sentence; None if nothing does.
GapExplainer = Callable[[int, Gap], str | None]


def explains_nothing(contract_id: int, gap: Gap) -> str | None:
    """The explainer that reports every gap as unexplained."""
    del contract_id, gap
    return None


def known_gaps(session: Session) -> GapExplainer:
    """The explainer for one report: the register's open known gaps, read once."""
    register = open_gaps(session)

    def explain(contract_id: int, gap: Gap) -> str | None:
        known = explaining(gap, register.get(contract_id, ()))
        return None if known is None else describe(known)

    return explain
