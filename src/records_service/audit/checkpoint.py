"""Signed checkpoints of the audit log, in the C2SP signed-note / tlog-checkpoint format.

This module owns the Ed25519 signing key (generation and the key file), the
C2SP verifier key text that outsiders use to check the log, and the text of a
signed checkpoint: origin, tree size and base64 root hash lines, an optional
timestamp extension line, a blank line, then signature lines
"— <key name> <base64(4-byte key id || signature)>".

Deciding when to sign, and where checkpoints are published, is left to callers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from records_service.audit.merkle import HASH_SIZE

ED25519_SIGNATURE_TYPE = b"\x01"
TIMESTAMP_EXTENSION = "timestamp "
MAX_SIGNATURES = 64
_SIGNATURE_PREFIX = "\u2014 "
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
# Every control character except the newline; checked once per note opened.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class CheckpointError(Exception):
    """A checkpoint or key could not be trusted: malformed, unsigned, or wrongly signed."""


@dataclass(frozen=True)
class Checkpoint:
    """A statement of the log's size and root hash, optionally timed (timezone-aware)."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime | None = None


@dataclass(frozen=True)
class VerifierKey:
    """A parsed C2SP Ed25519 verifier key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def generate_signing_key() -> Ed25519PrivateKey:
    """Create a new Ed25519 checkpoint signing key."""
    return Ed25519PrivateKey.generate()


def save_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write the key as unencrypted PKCS#8 PEM, readable by the owner only (0600).

    Refuses to overwrite an existing file: losing a log's signing key cannot be undone.
    """
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # The umask may only remove bits, but be explicit in case the file system ignores mode.
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a key written by `save_private_key`; raise CheckpointError if it is not Ed25519."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot read private key {path.name}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"private key {path.name} is not an Ed25519 key")
    return key


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte C2SP key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    raw = _raw_public(public_key)
    return hashlib.sha256(name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + raw).digest()[:4]


def public_key_text(name: str, public_key: Ed25519PublicKey) -> str:
    """Return the C2SP verifier key "name+hexkeyid+base64(0x01 || public key)"."""
    _check_key_name(name)
    encoded = base64.b64encode(ED25519_SIGNATURE_TYPE + _raw_public(public_key)).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse a C2SP Ed25519 verifier key; raise CheckpointError if it is malformed."""
    # Only the first two '+' separate fields: the base64 key itself may contain '+'.
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("verifier key must have the form name+keyid+key")
    name, id_hex, encoded = parts
    if not _valid_key_name(name):
        raise CheckpointError(f"verifier key name {name!r} is empty or contains spaces")
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise CheckpointError("verifier key id must be 8 lowercase hex digits")
    blob = _b64decode(encoded, "verifier key")
    if len(blob) != 33 or blob[:1] != ED25519_SIGNATURE_TYPE:
        raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(blob[1:])
    except ValueError as exc:
        raise CheckpointError("verifier key holds an invalid Ed25519 public key") from exc
    if key_id(name, public_key) != bytes.fromhex(id_hex):
        raise CheckpointError("verifier key id does not match its name and key")
    return VerifierKey(name=name, key_id=bytes.fromhex(id_hex), public_key=public_key)


def sign_checkpoint(cp: Checkpoint, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the full signed-note text of `cp`, signed by `private_key` under `key_name`."""
    return sign_note(checkpoint_body(cp), key_name, private_key)


def sign_note(text: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign note text (ending in a newline) and return the signed note."""
    _check_key_name(key_name)
    if not text.endswith("\n") or any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise ValueError("note text must end with a newline and hold no control characters")
    signature = private_key.sign(text.encode())
    kid = key_id(key_name, private_key.public_key())
    encoded = base64.b64encode(kid + signature).decode()
    return f"{text}\n{_SIGNATURE_PREFIX}{key_name} {encoded}\n"


def checkpoint_body(cp: Checkpoint) -> str:
    """Return the note text (the signed part) of a checkpoint, ending in a newline."""
    _check_origin(cp.origin)
    if cp.tree_size < 0:
        raise ValueError(f"tree size must be >= 0, got {cp.tree_size}")
    if len(cp.root_hash) != HASH_SIZE:
        raise ValueError(f"root hash must be {HASH_SIZE} bytes, got {len(cp.root_hash)}")
    lines = [cp.origin, str(cp.tree_size), base64.b64encode(cp.root_hash).decode()]
    if cp.timestamp is not None:
        if cp.timestamp.tzinfo is None:
            raise ValueError("checkpoint timestamp must be timezone-aware")
        lines.append(TIMESTAMP_EXTENSION + cp.timestamp.astimezone(UTC).isoformat())
    return "\n".join(lines) + "\n"


def open_checkpoint(note_text: str, verifier_key_text: str | VerifierKey) -> Checkpoint:
    """Verify a signed checkpoint against one trusted key and return its contents.

    The key is its C2SP text, or a `VerifierKey` already parsed (when opening many notes).

    Raises CheckpointError if the note is malformed, unsigned by the key, or
    wrongly signed, or if its text is not a checkpoint.
    """
    return parse_checkpoint_body(verify_note(note_text, verifier_key_text))


def verify_note(note_text: str, verifier_key_text: str | VerifierKey) -> str:
    """Verify a signed note against one trusted key and return its text.

    Follows the signed-note rules: signatures by other keys are ignored, a
    failing signature by the trusted key rejects the note, and at least one
    signature by the trusted key must verify. Raises CheckpointError.
    """
    verifier = (
        verifier_key_text
        if isinstance(verifier_key_text, VerifierKey)
        else parse_verifier_key(verifier_key_text)
    )
    body, signature_lines = _split_note(note_text)
    verified = False
    for name, blob in signature_lines:
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue
        try:
            verifier.public_key.verify(blob[4:], body.encode())
        except InvalidSignature as exc:
            raise CheckpointError(f"signature by {name} does not verify") from exc
        verified = True
    if not verified:
        raise CheckpointError(f"no signature by the trusted key {verifier.name}")
    return body


def note_signers(note_text: str) -> list[tuple[str, str]]:
    """The key name and hex key id of each signature line of a signed note, WITHOUT
    checking any signature (a report names the key; ``open_checkpoint`` checks it)."""
    _, lines = _split_note(note_text)
    return [(name, blob[:4].hex()) for name, blob in lines]


def parse_checkpoint_body(body: str) -> Checkpoint:
    """Parse checkpoint note text WITHOUT checking any signature; raise CheckpointError.

    Only for callers that verify the signature separately (`open_checkpoint` does both).
    """
    lines = body[:-1].split("\n") if body.endswith("\n") else []
    if len(lines) < 3 or any(not line for line in lines):
        raise CheckpointError("checkpoint body needs origin, size and root lines, none empty")
    origin, size_text, root_text, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_text):
        raise CheckpointError(f"tree size {size_text!r} is not a canonical decimal")
    root_hash = _b64decode(root_text, "root hash")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes, got {len(root_hash)}")
    return Checkpoint(origin, int(size_text), root_hash, _timestamp(extensions))


def _split_note(note_text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its text and its (key name, signature blob) lines."""
    if _CONTROL.search(note_text):
        raise CheckpointError("note contains control characters")
    if not note_text.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    cut = note_text.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("note has no blank line before its signatures")
    body, signature_block = note_text[: cut + 1], note_text[cut + 2 :]
    raw_lines = signature_block[:-1].split("\n") if signature_block else []
    if not raw_lines:
        raise CheckpointError("note has no signature lines")
    if len(raw_lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    return body, [_parse_signature_line(line) for line in raw_lines]


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError("signature line does not start with an em dash and a space")
    fields = line[len(_SIGNATURE_PREFIX) :].split(" ")
    if len(fields) != 2 or not fields[0]:
        raise CheckpointError("signature line must be '— <key name> <signature>'")
    blob = _b64decode(fields[1], "signature")
    if len(blob) < 5:
        raise CheckpointError("signature is too short to hold a key id")
    return fields[0], blob


def _timestamp(extensions: list[str]) -> datetime | None:
    # Extension lines are opaque by spec; only our own timestamp line is read, others ignored.
    for line in extensions:
        if line.startswith(TIMESTAMP_EXTENSION):
            try:
                value = datetime.fromisoformat(line[len(TIMESTAMP_EXTENSION) :])
            except ValueError as exc:
                raise CheckpointError(f"bad timestamp line {line!r}") from exc
            if value.tzinfo is None:
                raise CheckpointError("checkpoint timestamp has no time zone")
            return value
    return None


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"{what} is not valid base64") from exc


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_key_name(name: str) -> None:
    if not _valid_key_name(name):
        raise ValueError(f"invalid key name {name!r}: empty, or contains '+' or spaces")


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)


def _check_origin(origin: str) -> None:
    if not origin or any(ord(ch) < 0x20 for ch in origin):
        raise ValueError(f"invalid checkpoint origin {origin!r}")
