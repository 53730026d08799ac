"""How backup and restore report progress, without knowing how it is shown.

A :data:`Bars` callable opens one bar for a step (a label, a total and its unit,
``B`` for bytes or ``pages``) and gives back the function that advances it; the command line passes
one that draws tqdm bars, tests and the benchmark pass :func:`no_bars`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Advance = Callable[[int], object]
Bars = Callable[[str, int, str], AbstractContextManager[Advance]]


def _ignore(_count: int) -> None:
    return None


def no_bars(_label: str, _total: int, _unit: str) -> AbstractContextManager[Advance]:
    """A bar that shows nothing."""
    return nullcontext(_ignore)
