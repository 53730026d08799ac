"""RFC 9162 Merkle tree hashing, proofs and proof verification for the audit log.

This module owns the pure arithmetic of the log's Merkle tree (the same tree as
RFC 6962): leaf and node hashing, the set of stored nodes each append produces,
roots, inclusion and consistency proofs built from stored nodes, their
verification from hashes alone, and a fast streaming root over many leaves.

Storage model: the caller keeps the hash of every *perfect aligned subtree*,
addressed as (level, index) = hash of leaves [index * 2**level, (index + 1) * 2**level).
Level 0 holds the leaf hashes. Every root and proof for any tree size is then
assembled from O(log n) of those nodes. Where and how the nodes are stored is
left to callers (a database table, or `MemoryNodeStore` here); this module does
no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class NodeReader(Protocol):
    """Read access to stored perfect-subtree hashes."""

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of leaves [index * 2**level, (index + 1) * 2**level).

        Raises KeyError when that node has not been stored.
        """
        ...


def leaf_hash(entry: bytes) -> bytes:
    """Hash one entry's canonical bytes as a tree leaf: SHA-256(0x00 || entry)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def new_nodes_for_leaf(index: int, leaf: bytes, reader: NodeReader) -> list[tuple[int, int, bytes]]:
    """Return the (level, index, hash) nodes to store when leaf `index` is appended.

    `leaf` is the leaf *hash* (see `leaf_hash`). The result starts with the
    level-0 node itself, followed by every perfect subtree the new leaf
    completes, lowest first. Left siblings are read from `reader`, so all
    nodes for leaves 0..index-1 must already be stored.
    """
    if index < 0:
        raise ValueError(f"leaf index must be >= 0, got {index}")
    _require_hash(leaf, "leaf hash")
    nodes = [(0, index, leaf)]
    level, position, current = 0, index, leaf
    # A node completes its parent exactly when it is a right child (odd index).
    while position & 1:
        current = node_hash(reader.node(level, position - 1), current)
        level += 1
        position >>= 1
        nodes.append((level, position, current))
    return nodes


def root(tree_size: int, reader: NodeReader) -> bytes:
    """Return the RFC 9162 root hash (MTH) of the first `tree_size` leaves."""
    _require_size(tree_size)
    if tree_size == 0:
        return EMPTY_ROOT
    return _range_hash(0, tree_size, reader)


def inclusion_proof(leaf_index: int, tree_size: int, reader: NodeReader) -> list[bytes]:
    """Return the RFC 9162 section 2.1.3.1 inclusion proof of a leaf in a tree of `tree_size`."""
    _require_size(tree_size)
    if not 0 <= leaf_index < tree_size:
        raise ValueError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    path: list[bytes] = []
    lo, hi, m = 0, tree_size, leaf_index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_range_hash(lo + k, hi, reader))
            hi = lo + k
        else:
            path.append(_range_hash(lo, lo + k, reader))
            lo, m = lo + k, m - k
    # Collected from the root down; the RFC lists the path from the leaf up.
    path.reverse()
    return path


def consistency_proof(first: int, second: int, reader: NodeReader) -> list[bytes]:
    """Return the RFC 9162 section 2.1.4.1 consistency proof from size `first` to `second`."""
    _require_size(first)
    _require_size(second)
    if first > second:
        raise ValueError(f"first size {first} is larger than second size {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole_old_tree = 0, second, first, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_range_hash(lo + k, hi, reader))
            hi = lo + k
        else:
            proof.append(_range_hash(lo, lo + k, reader))
            lo, m, whole_old_tree = lo + k, m - k, False
    if not whole_old_tree:
        proof.append(_range_hash(lo, hi, reader))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the RFC 9162 section 2.1.3.2 algorithm."""
    if not 0 <= leaf_index < tree_size or not _all_hashes([leaf_hash, root, *proof]):
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the RFC 9162 section 2.1.4.2 algorithm.

    The trivial cases the RFC leaves implicit are decided as follows: an empty
    first tree is consistent with anything given an empty proof and the empty
    root; equal sizes need an empty proof and equal roots.
    """
    if not 0 <= first <= second or not _all_hashes([first_root, second_root, *proof]):
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT and (second > 0 or second_root == EMPTY_ROOT)
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class RootAccumulator:
    """Streaming root over appended leaf hashes: a stack of perfect subtrees.

    Holds O(log n) hashes whatever the number of leaves, so it can recompute
    the root of a very large log, and report the root at any intermediate size.
    """

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self._size += 1
        carry, stack = self._size, self._stack
        while not carry & 1:
            leaf = node_hash(stack.pop(), leaf)
            carry >>= 1
        stack.append(leaf)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes (the hot loop avoids attribute and call overhead)."""
        stack, size = self._stack, self._size
        sha256, prefix, pop, push = hashlib.sha256, _NODE_PREFIX, stack.pop, stack.append
        for current in leaves:
            size += 1
            carry = size
            # Each trailing zero bit of the new size is a perfect subtree to merge.
            while not carry & 1:
                current = sha256(prefix + pop() + current).digest()
                carry >>= 1
            push(current)
        self._size = size

    def root(self) -> bytes:
        """Return the RFC 9162 root of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        current = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            current = node_hash(left, current)
        return current


def root_from_leaf_hashes(leaves: Iterable[bytes]) -> bytes:
    """Return the RFC 9162 root over an iterable of leaf hashes, streaming."""
    accumulator = RootAccumulator()
    accumulator.extend(leaves)
    return accumulator.root()


class MemoryNodeStore:
    """A dict-backed `NodeReader` that also appends leaves; for tests and offline checks."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def node(self, level: int, index: int) -> bytes:
        """Return a stored node hash; raise KeyError if absent."""
        return self._nodes[(level, index)]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append a leaf hash, store the nodes it completes, and return them."""
        nodes = new_nodes_for_leaf(self._size, leaf, self)
        for level, index, value in nodes:
            self._nodes[(level, index)] = value
        self._size += 1
        return nodes

    def root(self, tree_size: int | None = None) -> bytes:
        """Return the root at `tree_size` (default: the current size)."""
        size = self._size if tree_size is None else tree_size
        if size > self._size:
            raise ValueError(f"tree size {size} exceeds the {self._size} leaves stored")
        return root(size, self)


def _range_hash(lo: int, hi: int, reader: NodeReader) -> bytes:
    """MTH of leaves [lo, hi), where lo is aligned to the next power of two >= hi - lo.

    Every range met while building roots and proofs has that alignment, so the
    range splits into perfect aligned subtrees of decreasing size.
    """
    parts: list[bytes] = []
    position, remaining = lo, hi - lo
    while remaining:
        level = remaining.bit_length() - 1
        parts.append(reader.node(level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    current = parts.pop()
    while parts:
        current = node_hash(parts.pop(), current)
    return current


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _require_size(tree_size: int) -> None:
    if tree_size < 0:
        raise ValueError(f"tree size must be >= 0, got {tree_size}")


def _require_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _all_hashes(values: Sequence[bytes]) -> bool:
    return all(len(v) == HASH_SIZE for v in values)
