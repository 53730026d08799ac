"""Reading stored Merkle nodes (``audit_nodes``) in batches, for roots and proofs.

The pure functions in :mod:`records_service.audit.merkle` ask a `NodeReader` for
one node at a time. Which nodes they ask for depends only on the sizes involved,
never on hash values, so :func:`with_stored_nodes` runs the computation once
against a recorder to learn the addresses, fetches them all in a few queries,
then runs it for real from memory. A proof then costs one round trip, not one per
node. Missing nodes surface as ``KeyError`` from the second run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from sqlalchemy import Connection
from sqlmodel import Session

from records_service.audit.merkle import HASH_SIZE, NodeReader

T = TypeVar("T")
Address = tuple[int, int]
# Keeps each statement well under SQLite's bound-parameter limit.
FETCH_CHUNK = 900
_PLACEHOLDER = bytes(HASH_SIZE)


class _Recorder:
    """A `NodeReader` that notes every address asked for and answers with zeros."""

    def __init__(self) -> None:
        self.wanted: set[Address] = set()

    def node(self, level: int, index: int) -> bytes:
        self.wanted.add((level, index))
        return _PLACEHOLDER


class LoadedNodes:
    """A `NodeReader` over nodes already fetched; raises ``KeyError`` for the rest."""

    def __init__(self, nodes: dict[Address, bytes]) -> None:
        self._nodes = nodes

    def node(self, level: int, index: int) -> bytes:
        """Return a fetched node hash; raise KeyError if it was not stored."""
        return self._nodes[(level, index)]


def addresses_needed(compute: Callable[[NodeReader], object]) -> set[Address]:
    """The node addresses a merkle computation reads."""
    recorder = _Recorder()
    compute(recorder)
    return recorder.wanted


def fetch_nodes(db: Session | Connection, addresses: Iterable[Address]) -> dict[Address, bytes]:
    """Fetch the stored hashes at ``addresses``; absent ones are simply left out."""
    by_level: dict[int, list[int]] = {}
    for level, index in set(addresses):
        by_level.setdefault(level, []).append(index)
    conn = db.connection() if isinstance(db, Session) else db
    found: dict[Address, bytes] = {}
    for batch in _batches(by_level):
        for level, index, digest in conn.exec_driver_sql(_select(batch)):
            found[(int(level), int(index))] = bytes(digest)
    return found


def _select(batch: list[tuple[int, list[int]]]) -> str:
    """One statement for a batch: an IN list per level, OR-ed, so that every term runs on
    the (level, idx) primary key. The values are integers computed here, never input,
    and writing them inline spares building a bound expression per address, which
    costs more than the query on the proof path."""
    terms = [
        f"(level = {int(level)} AND idx IN ({','.join(str(int(i)) for i in indices)}))"
        for level, indices in batch
    ]
    return "SELECT level, idx, hash FROM audit_nodes WHERE " + " OR ".join(terms)


def _batches(by_level: dict[int, list[int]]) -> Iterator[list[tuple[int, list[int]]]]:
    """Group (level, indices) into statements of at most FETCH_CHUNK addresses."""
    batch: list[tuple[int, list[int]]] = []
    size = 0
    for level, indices in sorted(by_level.items()):
        indices.sort()
        for start in range(0, len(indices), FETCH_CHUNK):
            chunk = indices[start : start + FETCH_CHUNK]
            if size + len(chunk) > FETCH_CHUNK and batch:
                yield batch
                batch, size = [], 0
            batch.append((level, chunk))
            size += len(chunk)
    if batch:
        yield batch


def with_stored_nodes(db: Session | Connection, compute: Callable[[NodeReader], T]) -> T:
    """Run a merkle computation (root, proof) over stored nodes, fetched in one batch.

    Raises ``KeyError`` if a node it needs is not stored.
    """
    needed = addresses_needed(compute)
    return compute(LoadedNodes(fetch_nodes(db, needed)))
