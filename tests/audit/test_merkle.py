"""The audit Merkle tree against the RFC 6962 reference vectors and a naive RFC model."""

from __future__ import annotations

import hashlib

import pytest

from records_service.audit.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    RootAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_nodes_for_leaf,
    node_hash,
    root,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# Reference vectors of the certificate-transparency implementations, transcribed as
# data from github.com/transparency-dev/merkle (Apache-2.0): testonly/constants.go
# (LeafInputs, NodeHashes, RootHashes) and proof/verify_test.go (inclusionProofs,
# consistencyProofs; there leaf numbers are 1-based, here indices are 0-based).
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

ROOTS = [  # indexed by tree size
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

INCLUSION_VECTORS = [  # (leaf index, tree size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

CONSISTENCY_VECTORS = [  # (first size, second size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

PROPERTY_MAX_SIZE = 70


def _store(leaves: list[bytes]) -> MemoryNodeStore:
    store = MemoryNodeStore()
    for leaf in leaves:
        store.append(leaf)
    return store


@pytest.fixture(scope="module")
def vector_store() -> MemoryNodeStore:
    return _store([leaf_hash(data) for data in LEAF_INPUTS])


@pytest.fixture(scope="module")
def big_leaves() -> list[bytes]:
    return [leaf_hash(f"audit entry {i}".encode()) for i in range(PROPERTY_MAX_SIZE)]


@pytest.fixture(scope="module")
def big_store(big_leaves: list[bytes]) -> MemoryNodeStore:
    return _store(big_leaves)


# A direct transcription of the RFC 9162 definitions (MTH, PATH, PROOF), used as the oracle.
def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_root(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_root(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_root(leaves)]
    k = _split(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_root(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_root(leaves[:k])]


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x08]) + value[1:]


def test_leaf_and_node_hashes_use_rfc_domain_separation() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert bytes.fromhex(ROOTS[0]) == EMPTY_ROOT


def test_stored_nodes_equal_reference_node_hashes(vector_store: MemoryNodeStore) -> None:
    for level, hashes in enumerate(NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert vector_store.node(level, index).hex() == expected, (level, index)


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_equal_reference_roots(vector_store: MemoryNodeStore, size: int) -> None:
    leaves = [leaf_hash(data) for data in LEAF_INPUTS[:size]]
    assert root(size, vector_store).hex() == ROOTS[size]
    assert root_from_leaf_hashes(leaves).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_proofs_equal_reference_vectors(
    vector_store: MemoryNodeStore, index: int, size: int, proof: list[str]
) -> None:
    built = inclusion_proof(index, size, vector_store)
    assert [p.hex() for p in built] == proof
    leaf = leaf_hash(LEAF_INPUTS[index])
    assert verify_inclusion(leaf, index, size, built, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proofs_equal_reference_vectors(
    vector_store: MemoryNodeStore, first: int, second: int, proof: list[str]
) -> None:
    built = consistency_proof(first, second, vector_store)
    assert [p.hex() for p in built] == proof
    first_root, second_root = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert verify_consistency(first, second, first_root, second_root, built)


def test_new_nodes_for_leaf_stores_every_completed_subtree() -> None:
    store = MemoryNodeStore()
    counts = [len(store.append(leaf_hash(bytes([i])))) for i in range(8)]
    # Leaf i completes one subtree per trailing one bit of i.
    assert counts == [1, 2, 1, 3, 1, 2, 1, 4]
    last = new_nodes_for_leaf(7, leaf_hash(b"\x07"), store)
    assert [(level, index) for level, index, _ in last] == [(0, 7), (1, 3), (2, 1), (3, 0)]


def test_new_nodes_for_leaf_needs_the_left_siblings() -> None:
    with pytest.raises(KeyError):
        new_nodes_for_leaf(1, leaf_hash(b"x"), MemoryNodeStore())
    with pytest.raises(ValueError, match="32 bytes"):
        new_nodes_for_leaf(0, b"short", MemoryNodeStore())


def test_stored_roots_equal_naive_roots_for_every_size(
    big_leaves: list[bytes], big_store: MemoryNodeStore
) -> None:
    accumulator = RootAccumulator()
    assert accumulator.root() == EMPTY_ROOT
    for size in range(1, PROPERTY_MAX_SIZE + 1):
        expected = naive_root(big_leaves[:size])
        accumulator.append(big_leaves[size - 1])
        assert root(size, big_store) == expected, size
        assert accumulator.root() == expected, size
        assert root_from_leaf_hashes(iter(big_leaves[:size])) == expected, size


def test_inclusion_proofs_match_the_rfc_and_reject_tampering(
    big_leaves: list[bytes], big_store: MemoryNodeStore
) -> None:
    for size in range(1, PROPERTY_MAX_SIZE + 1):
        tree_root = root(size, big_store)
        for index in range(size):
            leaf = big_leaves[index]
            proof = inclusion_proof(index, size, big_store)
            assert proof == naive_path(index, big_leaves[:size]), (index, size)
            assert verify_inclusion(leaf, index, size, proof, tree_root)
            for bad in _tampered(proof):
                assert not verify_inclusion(leaf, index, size, bad, tree_root), (index, size)
            assert not verify_inclusion(_flip(leaf), index, size, proof, tree_root)
            assert not verify_inclusion(leaf, index, size, proof, _flip(tree_root))
            if size > 1:
                other = (index + 1) % size
                assert not verify_inclusion(leaf, other, size, proof, tree_root), (index, size)


def test_consistency_proofs_match_the_rfc_and_reject_tampering(
    big_leaves: list[bytes], big_store: MemoryNodeStore
) -> None:
    roots = [root(size, big_store) for size in range(PROPERTY_MAX_SIZE + 1)]
    for second in range(1, PROPERTY_MAX_SIZE + 1):
        for first in range(1, second + 1):
            proof = consistency_proof(first, second, big_store)
            assert proof == naive_subproof(first, big_leaves[:second], True), (first, second)
            assert verify_consistency(first, second, roots[first], roots[second], proof)
            if first == second:
                continue
            for bad in _tampered(proof):
                assert not verify_consistency(first, second, roots[first], roots[second], bad)
            assert not verify_consistency(first, second, _flip(roots[first]), roots[second], proof)
            assert not verify_consistency(first, second, roots[first], _flip(roots[second]), proof)
            assert not verify_consistency(first, second, roots[second], roots[first], proof)
            assert not verify_consistency(first - 1, second, roots[first], roots[second], proof)


def _tampered(proof: list[bytes]) -> list[list[bytes]]:
    """Every single-element bit flip, plus truncated, extended and prefixed proofs."""
    variants = [[*proof[:i], _flip(p), *proof[i + 1 :]] for i, p in enumerate(proof)]
    variants.append([*proof, b"\x00" * 32])
    variants.append([b"\x00" * 32, *proof])
    if proof:
        variants.append(proof[:-1])
    return variants


def test_edge_cases_of_verification() -> None:
    leaf = leaf_hash(b"only")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 1, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 0, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"short")
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, leaf, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, leaf, [leaf])
    assert not verify_consistency(0, 5, leaf, leaf, [])
    assert verify_consistency(3, 3, leaf, leaf, [])
    assert not verify_consistency(3, 3, leaf, EMPTY_ROOT, [])
    assert not verify_consistency(3, 3, leaf, leaf, [leaf])
    assert not verify_consistency(4, 3, leaf, leaf, [leaf])
    assert not verify_consistency(1, 2, leaf, leaf, [])


def test_proof_builders_reject_impossible_sizes(vector_store: MemoryNodeStore) -> None:
    assert root(0, vector_store) == EMPTY_ROOT
    with pytest.raises(ValueError):
        inclusion_proof(8, 8, vector_store)
    with pytest.raises(ValueError):
        consistency_proof(5, 4, vector_store)
    with pytest.raises(KeyError):
        root(9, vector_store)
    with pytest.raises(ValueError):
        vector_store.root(9)
    assert consistency_proof(0, 8, vector_store) == []
