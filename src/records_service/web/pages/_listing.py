"""What every list page shares: sortable column headings and removable filter chips.

A heading links to the same list sorted by its column (ascending first, then the
other way when it is already the sort), keeping every filter; a chip names one
filter in force and links to the same list without it. Sorting itself is done by
the domain's list functions, from a whitelisted key (:func:`records_service.pagination.parse_sort`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from records_service.pagination import Sort

AriaSort = Literal["ascending", "descending", "none"]


@dataclass(frozen=True)
class SortHeading:
    """A column heading that sorts the list."""

    label: str
    href: str
    state: AriaSort


@dataclass(frozen=True)
class Chip:
    """One filter in force, with the address of the list without it."""

    label: str
    remove_href: str


def _address(path: str, params: Mapping[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    return f"{path}?{urlencode(kept)}" if kept else path


def sort_headings(
    path: str, params: Mapping[str, str], current: Sort, labels: Mapping[str, str]
) -> dict[str, SortHeading]:
    """``key -> heading`` for each sortable column; following one goes back to page 1."""
    base = {k: v for k, v in params.items() if k not in ("sort", "page")}
    headings = {}
    for key, label in labels.items():
        here = key == current.key
        wanted = Sort(key, descending=here and not current.descending)
        state: AriaSort = "none"
        if here:
            state = "descending" if current.descending else "ascending"
        headings[key] = SortHeading(label, _address(path, {**base, "sort": wanted.text}), state)
    return headings


def filter_chips(
    path: str,
    params: Mapping[str, str],
    names: Mapping[str, str],
    shown: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Chip]:
    """A chip for each filter in ``names`` (``parameter -> what it is called``) given a
    value; ``shown`` gives, per parameter, readable forms of values (a type's label)."""
    readable = shown or {}
    chips = []
    for name, title in names.items():
        value = (params.get(name) or "").strip()
        if not value:
            continue
        words = readable.get(name, {}).get(value, value)
        chips.append(chip_without(path, params, (name,), f"{title}: {words}"))
    return chips


def chip_without(path: str, params: Mapping[str, str], names: Collection[str], label: str) -> Chip:
    """A chip labelled ``label`` whose link drops the parameters ``names`` (and the page)."""
    rest = {k: v for k, v in params.items() if k not in names and k != "page"}
    return Chip(label, _address(path, rest))
