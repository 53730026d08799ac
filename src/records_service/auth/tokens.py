"""API token format, generation and checking.

A token reads ``rs_<public id>_<secret>``. The public id finds the row; only the
SHA-256 of the secret is stored. Tokens carry 256 bits from :mod:`secrets`, so a
fast hash is the right tool here (as for GitHub or PyPI tokens): a slow password
hash such as Argon2 adds nothing against brute force at that entropy and would
cost tens of milliseconds on every API call. Passwords, which are low-entropy,
use Argon2 via ``pwdlib`` instead (see :mod:`records_service.auth.passwords`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "rs"


@dataclass(frozen=True)
class NewToken:
    """A freshly minted token: show ``plaintext`` once, store ``public_id`` and ``secret_hash``."""

    public_id: str
    secret_hash: str
    plaintext: str


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a token secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def mint_token() -> NewToken:
    """Create a new random token."""
    public_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewToken(public_id, hash_secret(secret), f"{PREFIX}_{public_id}_{secret}")


def split_token(plaintext: str) -> tuple[str, str] | None:
    """Return ``(public_id, secret)`` or ``None`` if the text is not a token."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
