"""Password hashing for web logins (Argon2id through ``pwdlib``).

A password check for a name with no usable password (unknown, disabled, never set)
still runs Argon2, against :data:`DUMMY_HASH`, so that the answer takes as long as
for a real user and its timing does not tell which names exist.
"""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 10
# The hash of a random secret nobody kept, made with the hasher's parameters
# (a test checks they still match, so checking against it costs the same).
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$"
    "W/ASp5Rbk3yEu7Zg5/GRcw$SG8+9dZJKnSiDIpeso11qMEucurQQ7BGeDQ2PqliSc0"
)


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """Hash ``password`` for storage."""
    return _hasher().hash(password)


def verify_password(password: str, stored_hash: str) -> bool:
    """Whether ``password`` matches ``stored_hash``."""
    return bool(_hasher().verify(password, stored_hash))


def verify_or_pretend(password: str, stored_hash: str | None) -> bool:
    """Whether ``password`` matches ``stored_hash``; with no hash, the same work and False."""
    if stored_hash is None:
        verify_password(password, DUMMY_HASH)
        return False
    return verify_password(password, stored_hash)
