"""Offline bundle verification: a clean export passes and every kind of tampering is named."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from records_service.audit.bundle import (
    BundleReport,
    checkpoint_file_name,
    verify_bundle,
    write_bundle,
)
from records_service.audit.checkpoint import (
    Checkpoint,
    generate_signing_key,
    public_key_text,
    sign_checkpoint,
)
from records_service.audit.merkle import MemoryNodeStore, leaf_hash

ORIGIN = "records.example.org/audit"
ENTRY_COUNT = 10
CHECKPOINT_SIZES = (3, 7, 10)


def canonical(index: int, subject: str = "record-1") -> bytes:
    body = {"action": "record.read", "actor": "alice", "index": index, "subject": subject}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signed_checkpoints(
    entries: list[bytes], sizes: Iterable[int], key: Ed25519PrivateKey
) -> list[tuple[int, str]]:
    store = MemoryNodeStore()
    for entry in entries:
        store.append(leaf_hash(entry))
    return [
        (size, sign_checkpoint(Checkpoint(ORIGIN, size, store.root(size)), ORIGIN, key))
        for size in sizes
    ]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def trusted(key: Ed25519PrivateKey) -> str:
    return public_key_text(ORIGIN, key.public_key())


def make_bundle(
    path: Path, key: Ed25519PrivateKey, sizes: Iterable[int] = CHECKPOINT_SIZES
) -> Path:
    entries = [canonical(i) for i in range(ENTRY_COUNT)]
    rows = [
        (i, entry, {"action": "record.read", "actor": "alice"}) for i, entry in enumerate(entries)
    ]
    write_bundle(
        path,
        rows,
        signed_checkpoints(entries, sizes, key),
        public_key_text(ORIGIN, key.public_key()),
        ORIGIN,
    )
    return path


@pytest.fixture
def bundle(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return make_bundle(tmp_path / "bundle", key)


def read_entries(bundle: Path) -> list[dict[str, Any]]:
    lines = (bundle / "entries.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def write_entries(bundle: Path, records: list[dict[str, Any]], *, reseal: bool = True) -> None:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    (bundle / "entries.jsonl").write_text(text)
    if reseal:
        reseal_manifest(bundle)


def reseal_manifest(bundle: Path) -> None:
    """Do what a capable forger would: make the (unsigned) manifest match the files again."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    files = [p for p in bundle.rglob("*") if p.is_file() and p.name != "manifest.json"]
    manifest["files"] = {
        p.relative_to(bundle).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }
    manifest["tree_size"] = len((bundle / "entries.jsonl").read_text().splitlines())
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def forged_record(index: int, subject: str) -> dict[str, Any]:
    data = canonical(index, subject)
    return {
        "index": index,
        "canonical": base64.b64encode(data).decode(),
        "leaf_hash": leaf_hash(data).hex(),
    }


def verify(bundle: Path, trusted: str) -> BundleReport:
    return verify_bundle(bundle, trusted_key_text=trusted)


def mentions(report: BundleReport, *words: str) -> bool:
    return any(all(word in problem for word in words) for problem in report.problems)


def test_clean_bundle_verifies(bundle: Path, trusted: str) -> None:
    report = verify(bundle, trusted)
    assert report.problems == []
    assert report.ok
    assert (report.tree_size, report.checkpoints_checked) == (ENTRY_COUNT, 3)
    assert report.first_bad_range is None and report.warnings == []
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["origin"] == ORIGIN and manifest["tree_size"] == ENTRY_COUNT
    assert sorted(p.name for p in (bundle / "checkpoints").iterdir()) == [
        checkpoint_file_name(s) for s in CHECKPOINT_SIZES
    ]
    assert checkpoint_file_name(7) == "00000000000000000007.note"


def test_without_a_trusted_key_the_bundled_key_is_used_with_a_warning(bundle: Path) -> None:
    report = verify_bundle(bundle)
    assert report.ok
    assert any("public-key.txt" in warning for warning in report.warnings)


def test_edited_entry_is_named_by_its_leaf_hash(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    records[5]["canonical"] = base64.b64encode(canonical(5, "record-2")).decode()
    write_entries(bundle, records, reseal=False)
    report = verify(bundle, trusted)
    assert not report.ok
    assert report.first_bad_index == 5
    assert report.first_bad_range == (3, 6), "entries 3 and 4 are vouched for by nothing"
    assert report.problems[0].startswith("first bad entry: index 5, unless one of indices 3..4")
    assert mentions(report, "entry 5", "leaf_hash")
    assert mentions(report, "entries.jsonl", "SHA-256")
    assert mentions(report, "checkpoint 7", "does not match")
    assert not mentions(report, "checkpoint 3")


def test_edit_with_recomputed_leaf_hash_is_caught_by_the_checkpoints(
    bundle: Path, trusted: str
) -> None:
    records = read_entries(bundle)
    records[5] = forged_record(5, "record-2")
    write_entries(bundle, records)
    report = verify(bundle, trusted)
    assert report.first_bad_range == (3, 7)
    assert report.first_bad_index is None
    assert report.problems[0] == "first bad entry: one of indices 3..6"
    assert mentions(report, "checkpoint 7", "entries 0..6", "does not match")
    assert mentions(report, "checkpoint 10", "does not match")
    assert not mentions(report, "manifest")


def test_a_checkpoint_per_entry_pins_a_consistent_forgery_exactly(
    tmp_path: Path, key: Ed25519PrivateKey, trusted: str
) -> None:
    bundle = make_bundle(tmp_path / "dense", key, sizes=range(1, ENTRY_COUNT + 1))
    records = read_entries(bundle)
    records[5] = forged_record(5, "record-2")
    write_entries(bundle, records)
    report = verify(bundle, trusted)
    assert report.first_bad_index == 5
    assert report.checkpoints_checked == ENTRY_COUNT


def test_deleted_entry_is_named(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    del records[4]
    write_entries(bundle, records)
    report = verify(bundle, trusted)
    assert report.first_bad_index == 4
    assert mentions(report, "expected index 4, found 5")
    assert mentions(report, "checkpoint 10", "covers 10 entries", "holds 9")


def test_deleted_entry_with_renumbering_is_caught(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    kept = [canonical(i) for i in range(ENTRY_COUNT) if i != 4]
    records = [
        {
            "index": i,
            "canonical": base64.b64encode(data).decode(),
            "leaf_hash": leaf_hash(data).hex(),
        }
        for i, data in enumerate(kept)
    ]
    write_entries(bundle, records)
    report = verify(bundle, trusted)
    assert report.first_bad_range == (3, 7)
    assert mentions(report, "checkpoint 7", "does not match")
    assert mentions(report, "checkpoint 10", "covers 10 entries")


def test_reordered_entries_are_named(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    records[5], records[6] = records[6], records[5]
    write_entries(bundle, records)
    report = verify(bundle, trusted)
    assert report.first_bad_index == 5
    assert mentions(report, "line 6", "expected index 5, found 6")


def test_swapped_contents_under_unchanged_indices_are_caught(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    for field in ("canonical", "leaf_hash"):
        records[5][field], records[6][field] = records[6][field], records[5][field]
    write_entries(bundle, records)
    report = verify(bundle, trusted)
    assert report.first_bad_range == (3, 7)


def test_inserted_forged_entry_is_caught(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    # The forger renumbers every later entry, whose canonical bytes carry the index.
    shifted = [forged_record(i + 1, "record-1") for i in range(5, ENTRY_COUNT)]
    write_entries(bundle, [*records[:5], forged_record(5, "forged"), *shifted])
    report = verify(bundle, trusted)
    assert report.tree_size == ENTRY_COUNT + 1
    assert report.first_bad_range == (3, 7)
    assert mentions(report, "checkpoint 7", "does not match")


def test_inserted_duplicate_index_is_named(bundle: Path, trusted: str) -> None:
    records = read_entries(bundle)
    write_entries(bundle, [*records[:6], forged_record(5, "forged"), *records[6:]])
    report = verify(bundle, trusted)
    assert mentions(report, "line 7", "expected index 6, found 5")
    assert report.first_bad_index == 5
    assert report.first_bad_range == (3, 6)


def test_forged_checkpoint_signature_is_named(bundle: Path, trusted: str) -> None:
    path = bundle / "checkpoints" / checkpoint_file_name(7)
    lines = path.read_text().split("\n")
    lines[2] = base64.b64encode(leaf_hash(b"forged root")).decode()
    path.write_text("\n".join(lines))
    reseal_manifest(bundle)
    report = verify(bundle, trusted)
    assert report.checkpoints_checked == 2
    assert mentions(report, checkpoint_file_name(7), "does not verify")
    assert report.first_bad_range is None


def test_log_re_signed_with_another_key_fails_against_the_trusted_key(
    tmp_path: Path, trusted: str
) -> None:
    impostor = generate_signing_key()
    bundle = make_bundle(tmp_path / "impostor", impostor)
    assert verify_bundle(bundle).ok, "without a trusted key only self-consistency is checked"
    report = verify(bundle, trusted)
    assert mentions(report, "public-key.txt", "not the trusted key")
    assert mentions(report, checkpoint_file_name(3), "no signature by the trusted key")
    assert report.checkpoints_checked == 0


def test_inconsistent_checkpoint_is_named(
    bundle: Path, key: Ed25519PrivateKey, trusted: str
) -> None:
    fork = [canonical(i, "record-forked" if i == 2 else "record-1") for i in range(7)]
    [(_, note)] = signed_checkpoints(fork, [7], key)
    (bundle / "checkpoints" / checkpoint_file_name(7)).write_text(note)
    reseal_manifest(bundle)
    report = verify(bundle, trusted)
    assert mentions(report, "checkpoint 7", "inconsistent with checkpoint 10")
    assert report.first_bad_range is None, "checkpoint 10 vouches for the entries"
    assert report.checkpoints_checked == 3


def test_checkpoint_under_the_wrong_name_is_named(bundle: Path, trusted: str) -> None:
    folder = bundle / "checkpoints"
    (folder / checkpoint_file_name(7)).rename(folder / checkpoint_file_name(8))
    reseal_manifest(bundle)
    report = verify(bundle, trusted)
    assert mentions(report, checkpoint_file_name(8), "does not match its tree size 7")


def test_checkpoint_from_another_log_is_named(
    bundle: Path, key: Ed25519PrivateKey, trusted: str
) -> None:
    entries = [canonical(i) for i in range(3)]
    store = MemoryNodeStore()
    for entry in entries:
        store.append(leaf_hash(entry))
    note = sign_checkpoint(Checkpoint("other.example/log", 3, store.root()), ORIGIN, key)
    (bundle / "checkpoints" / checkpoint_file_name(3)).write_text(note)
    reseal_manifest(bundle)
    report = verify(bundle, trusted)
    assert mentions(report, checkpoint_file_name(3), "other.example/log")


def test_manifest_problems_are_named(bundle: Path, trusted: str) -> None:
    (bundle / "checkpoints" / "extra.txt").write_text("x")
    (bundle / "public-key.txt").unlink()
    report = verify(bundle, trusted)
    assert mentions(report, "checkpoints/extra.txt", "not listed")
    assert mentions(report, "public-key.txt", "missing")
    (bundle / "manifest.json").unlink()
    assert mentions(verify(bundle, trusted), "manifest.json", "cannot be read")


def test_malformed_entry_line_is_named(bundle: Path, trusted: str) -> None:
    lines = (bundle / "entries.jsonl").read_text().splitlines(keepends=True)
    lines[8] = "{not json\n"
    (bundle / "entries.jsonl").write_text("".join(lines))
    reseal_manifest(bundle)
    report = verify(bundle, trusted)
    assert mentions(report, "line 9", "not a JSON object")
    assert report.first_bad_index == 8


def test_bundle_without_checkpoints_is_not_ok(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    bundle = make_bundle(tmp_path / "bare", key, sizes=())
    report = verify_bundle(bundle)
    assert not report.ok
    assert mentions(report, "no checkpoints")


def test_entries_after_the_last_checkpoint_are_accepted(
    tmp_path: Path, key: Ed25519PrivateKey, trusted: str
) -> None:
    report = verify(make_bundle(tmp_path / "tail", key, sizes=(0, 4)), trusted)
    assert report.ok, report.problems
    assert report.checkpoints_checked == 2


def test_write_bundle_keeps_recorded_leaf_hash_and_refuses_clobbering(
    tmp_path: Path, key: Ed25519PrivateKey, trusted: str
) -> None:
    bundle = make_bundle(tmp_path / "b", key)
    with pytest.raises(FileExistsError):
        make_bundle(bundle, key)
    wrong = bytes(32)
    out = tmp_path / "recorded"
    write_bundle(out, [(0, canonical(0), {"leaf_hash": wrong})], [], trusted, ORIGIN)
    assert read_entries(out)[0]["leaf_hash"] == wrong.hex()
    assert mentions(verify(out, trusted), "entry 0", "leaf_hash")
    with pytest.raises(ValueError, match="index"):
        write_bundle(tmp_path / "clash", [(0, canonical(0), {"index": 1})], [], trusted, ORIGIN)
