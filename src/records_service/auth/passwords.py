"""Password hashing for web logins (Argon2id through ``pwdlib``)."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 10


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """Hash ``password`` for storage."""
    return _hasher().hash(password)


def verify_password(password: str, stored_hash: str) -> bool:
    """Whether ``password`` matches ``stored_hash``."""
    return bool(_hasher().verify(password, stored_hash))
