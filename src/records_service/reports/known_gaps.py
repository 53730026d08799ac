"""Where the Panel's report learns which missing records are known gaps.

A completeness gap (:class:`~records_service.retention.Gap`) is *known* when a
register of known gaps says what happened to the record (lost, never made, held by
the provider...), and *unexplained* otherwise. The report asks one question of the
register, through :data:`GapExplainer`: "does anything explain this gap of this
contract, and in what words?". :func:`known_gaps` builds the answerer for one
report; until the service keeps such a register it explains nothing, so every gap
is reported as unexplained. When the register lands, only :func:`known_gaps`
changes: it reads the contract's open known gaps once and answers from them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from records_service.retention.completeness import Gap

# (contract id, gap) -> what explains the gap, in a sentence; None if nothing does.
GapExplainer = Callable[[int, Gap], str | None]


def explains_nothing(contract_id: int, gap: Gap) -> str | None:
    """The explainer of a service with no register of known gaps."""
    del contract_id, gap
    return None


def known_gaps(session: Session) -> GapExplainer:
    """The explainer for one report, reading what it needs from ``session`` once."""
    del session  # no register of known gaps is kept yet
    return explains_nothing
