"""The words both verifiers (the database log's and an offline bundle's) use for the
first bad entry they found."""

from __future__ import annotations


def first_bad_summary(index: int | None, bad_range: tuple[int, int]) -> str:
    """Name the first bad entry: ``index`` if proven, else the range it lies in."""
    lo, hi = bad_range
    if index is None:
        return f"first bad entry: one of indices {lo}..{hi - 1}"
    if index == lo:
        return f"first bad entry: index {index}"
    return (
        f"first bad entry: index {index}, unless one of indices {lo}..{index - 1} "
        "(vouched for by no matching checkpoint) was altered too"
    )
