"""Signed checkpoints: C2SP note format, keys, and rejection of anything not properly signed."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from records_service.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    generate_signing_key,
    load_private_key,
    open_checkpoint,
    parse_verifier_key,
    public_key_text,
    save_private_key,
    sign_checkpoint,
    sign_note,
    verify_note,
)
from records_service.audit.merkle import leaf_hash

ORIGIN = "records.example.org/audit"
ROOT = leaf_hash(b"root stand-in")

# Known-answer vector from the documentation example of the Go signed-note package
# (golang.org/x/mod/sumdb/note, BSD-3-Clause): signer key, verifier key, text, signed note.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def verifier(key: Ed25519PrivateKey) -> str:
    return public_key_text(ORIGIN, key.public_key())


def _go_private_key() -> Ed25519PrivateKey:
    encoded = GO_SIGNER_KEY.split("+", 4)[4]
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)[1:])


def test_signed_notes_match_the_go_reference_byte_for_byte() -> None:
    go_key = _go_private_key()
    assert public_key_text("PeterNeumann", go_key.public_key()) == GO_VERIFIER_KEY
    assert sign_note(GO_TEXT, "PeterNeumann", go_key) == GO_NOTE
    assert verify_note(GO_NOTE, GO_VERIFIER_KEY) == GO_TEXT
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(GO_NOTE.replace("cryptography", "cryptographY"), GO_VERIFIER_KEY)


def test_checkpoint_note_has_the_tlog_checkpoint_layout(
    key: Ed25519PrivateKey, verifier: str
) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT, None), ORIGIN, key)
    body, signatures = note.split("\n\n")
    assert body.split("\n") == [ORIGIN, "42", base64.b64encode(ROOT).decode()]
    match = re.fullmatch(r"\u2014 (\S+) (\S+)\n", signatures)
    assert match is not None and match.group(1) == ORIGIN
    blob = base64.b64decode(match.group(2))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert blob[:4] == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    assert len(blob) == 4 + 64
    typed_key = base64.b64encode(b"\x01" + raw).decode()
    assert verifier == f"{ORIGIN}+{blob[:4].hex()}+{typed_key}"


@pytest.mark.parametrize(
    "timestamp",
    [None, datetime(2025, 3, 1, 9, 30, 5, 123456, tzinfo=UTC)],
    ids=["untimed", "timed"],
)
def test_round_trip(key: Ed25519PrivateKey, verifier: str, timestamp: datetime | None) -> None:
    cp = Checkpoint(ORIGIN, 1_000_000, ROOT, timestamp)
    assert open_checkpoint(sign_checkpoint(cp, ORIGIN, key), verifier) == cp


def test_timestamp_is_an_extension_line_in_utc(key: Ed25519PrivateKey, verifier: str) -> None:
    local = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, ROOT, local), ORIGIN, key)
    assert note.split("\n")[3] == "timestamp 2025-03-01T09:00:00+00:00"
    opened = open_checkpoint(note, verifier)
    assert opened.timestamp == local and opened.timestamp.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone"):
        sign_checkpoint(Checkpoint(ORIGIN, 0, ROOT, datetime(2025, 3, 1)), ORIGIN, key)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n7\n", "\n8\n"),
        (ORIGIN + "\n", "evil.example/audit\n"),
        ("timestamp 2025", "timestamp 2024"),
    ],
    ids=["size", "origin", "timestamp"],
)
def test_tampered_body_is_rejected(
    key: Ed25519PrivateKey, verifier: str, old: str, new: str
) -> None:
    stamp = datetime(2025, 1, 1, tzinfo=UTC)
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT, stamp), ORIGIN, key)
    assert old in note
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(note.replace(old, new, 1), verifier)


def test_tampered_root_is_rejected(key: Ed25519PrivateKey, verifier: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT, None), ORIGIN, key)
    forged = note.replace(
        base64.b64encode(ROOT).decode(), base64.b64encode(leaf_hash(b"x")).decode()
    )
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(forged, verifier)


def test_wrong_key_is_rejected(key: Ed25519PrivateKey, verifier: str) -> None:
    cp = Checkpoint(ORIGIN, 7, ROOT, None)
    impostor = generate_signing_key()
    # Same name, different key: the key id differs, so the signature is from an unknown key.
    with pytest.raises(CheckpointError, match="no signature by the trusted key"):
        open_checkpoint(sign_checkpoint(cp, ORIGIN, impostor), verifier)
    # Same name and a copied key id, different key: the signature must fail.
    genuine_id = parse_verifier_key(verifier).key_id
    note = sign_checkpoint(cp, ORIGIN, impostor)
    body, line = note.split("\n\n")
    blob = base64.b64decode(line.split(" ")[2])
    spoofed = f"{body}\n\n\u2014 {ORIGIN} {base64.b64encode(genuine_id + blob[4:]).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(spoofed, verifier)
    with pytest.raises(CheckpointError, match="no signature by the trusted key"):
        open_checkpoint(sign_checkpoint(cp, "other.example/log", key), verifier)


def test_unknown_cosignatures_are_ignored(key: Ed25519PrivateKey, verifier: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT, None), ORIGIN, key)
    witness = sign_checkpoint(
        Checkpoint(ORIGIN, 7, ROOT, None), "witness.example", generate_signing_key()
    )
    cosigned = note + witness.split("\n\n")[1]
    assert open_checkpoint(cosigned, verifier).tree_size == 7


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no blank line\n\u2014 k AAAA\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n\n- {ORIGIN} AAAAAAAA\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} !!notbase64\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} AAAA\n",
        f"{ORIGIN}\n7\r\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} AAAAAAAA\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} AAAAAAAA",
    ],
    ids=["empty", "no-separator", "unsigned", "ascii-dash", "bad-base64", "short", "cr", "no-eol"],
)
def test_malformed_notes_are_rejected(verifier: str, note: str) -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(note, verifier)


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n7\n",
        f"{ORIGIN}\n07\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n\nextension\n",
        f"\n7\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\ntimestamp yesterday\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\ntimestamp 2025-01-01T00:00:00\n",
    ],
    ids=[
        "two-lines",
        "leading-zero",
        "negative",
        "short-root",
        "empty-ext",
        "no-origin",
        "bad-time",
        "naive-time",
    ],
)
def test_well_signed_but_malformed_bodies_are_rejected(
    key: Ed25519PrivateKey, verifier: str, body: str
) -> None:
    note = sign_note(body, ORIGIN, key)
    with pytest.raises(CheckpointError):
        open_checkpoint(note, verifier)


@pytest.mark.parametrize(
    "text",
    [
        "name+12345678",
        "na me+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWx",
    ],
    ids=["two-parts", "space", "wrong-id", "upper-hex", "mangled", "short", "wrong-type"],
)
def test_malformed_verifier_keys_are_rejected(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_verifier_key(text)


def test_verifier_key_whose_base64_contains_a_plus() -> None:
    # Verifier key from the tests of github.com/transparency-dev/formats (Apache-2.0).
    parsed = parse_verifier_key("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert (parsed.name, parsed.key_id.hex()) == ("TEST", "7997405c")


def test_parse_verifier_key_round_trip(key: Ed25519PrivateKey, verifier: str) -> None:
    parsed = parse_verifier_key(verifier + "\n")
    assert parsed.name == ORIGIN
    assert public_key_text(parsed.name, parsed.public_key) == verifier
    with pytest.raises(ValueError):
        public_key_text("has+plus", key.public_key())


def test_private_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key = generate_signing_key()
    path = tmp_path / "checkpoint.key"
    save_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path)
    cp = Checkpoint(ORIGIN, 3, ROOT, None)
    assert sign_checkpoint(cp, ORIGIN, loaded) == sign_checkpoint(cp, ORIGIN, key)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        save_private_key(path, generate_signing_key())
    assert path.read_bytes() == before


def test_load_private_key_rejects_other_material(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    with pytest.raises(CheckpointError, match=r"garbage\.key"):
        load_private_key(garbage)
