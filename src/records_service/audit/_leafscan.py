"""Recomputing the leaf hashes of a range of entries: the hot loop of verification.

Recomputing a leaf (read the row, rebuild its canonical bytes, hash them, compare
with the stored leaf hash) is the bulk of a verification. A range hands its leaves,
batch by batch and in index order, to a sink (so memory stays flat however long
the log), and reports the entry problems it found (gaps, mismatches). What the
leaves feed (roots, judgement) stays with :mod:`records_service.audit.verify`.
Ranges are independent, so they could be spread over processes; measured on the
reference machine (2 shared cores) that was slower than one process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from records_service.audit._rows import TimeText, entry_rows
from records_service.audit.log import canonical_bytes

Progress = Callable[[int], None]


@dataclass
class RangeScan:
    """What recomputing the leaves of indices [lo, hi) found."""

    lo: int
    hi: int
    count: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)


def scan_range(
    conn: Connection,
    lo: int,
    hi: int,
    sink: Callable[[list[bytes]], None],
    progress: Progress | None = None,
) -> RangeScan:
    """Recompute and check the leaves of indices [lo, hi) on ``conn``, feeding ``sink``."""
    result = RangeScan(lo, hi)
    time_text = TimeText(conn.dialect)
    expected = lo
    for batch in entry_rows(conn, lo, hi):
        leaves: list[bytes] = []
        expected = _leaves(batch, expected, time_text, leaves, result.problems)
        sink(leaves)
        result.count += len(leaves)
        if progress is not None:
            progress(len(batch))
    if expected < hi:
        result.problems.append((expected, f"{_span(expected, hi - 1)} missing"))
    return result


def _leaves(
    batch: Sequence[tuple[Any, ...]],
    expected: int,
    time_text: TimeText,
    leaves: list[bytes],
    problems: list[tuple[int, str]],
) -> int:
    """The hot loop: one batch of rows into leaves; returns the next expected index."""
    sha256 = hashlib.sha256
    for index, at, actor, action, subject, details, stored in batch:
        if index != expected:
            problems.append((expected, f"{_span(expected, index - 1)} missing"))
        at_text = time_text(at)
        canonical = canonical_bytes(
            index=index,
            at=at_text or str(at),
            actor=actor,
            action=action,
            subject=subject,
            details=details,
        )
        leaf = sha256(b"\x00" + canonical).digest()
        if leaf != stored or at_text is None:
            problems.append((index, _leaf_problem(index, stored, at_text)))
        leaves.append(leaf)
        expected = index + 1
    return expected


def _span(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first}..{last} are"


def _leaf_problem(index: int, stored: bytes | None, at_text: str | None) -> str:
    if at_text is None:
        return f"entry {index}: its time cannot be read"
    if stored is None:
        return f"entry {index}: no leaf hash was stored for it"
    return f"entry {index}: its content does not match the leaf hash recorded for it"
