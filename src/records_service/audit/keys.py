"""The audit log's signing key on disk, and the verifier keys that check its checkpoints.

This module owns where the Ed25519 key file lives (``audit.key_file``, by default
``<data_dir>/keys/audit-signing.key``), creating it exactly once (``init``), loading it
for the checkpoint writer, and the list of trusted verifier keys: the current key's
plus any retired keys named in ``audit.previous_public_keys``. The key format and
signatures themselves belong to :mod:`records_service.audit.checkpoint`.
"""

from __future__ import annotations

import logging
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from records_service.audit.checkpoint import (
    generate_signing_key,
    load_private_key,
    parse_verifier_key,
    public_key_text,
    save_private_key,
)
from records_service.errors import ServiceUnavailable
from records_service.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_KEY_FILE = Path("keys") / "audit-signing.key"


class SigningKeyMissing(ServiceUnavailable):
    """The audit signing key has not been created (``records-service init`` creates it)."""

    type_slug = "audit-key-missing"
    title = "Audit signing key missing"


@dataclass(frozen=True)
class Signer:
    """The key that signs checkpoints, with the name its signatures carry."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key text that checks this signer's checkpoints."""
        return public_key_text(self.name, self.private_key.public_key())


def signing_key_path(settings: Settings) -> Path:
    """Where the signing key file lives."""
    return settings.audit.key_file or settings.data_dir / DEFAULT_KEY_FILE


def key_name(settings: Settings) -> str:
    """The name checkpoint signatures carry: ``audit.key_name``, else the origin."""
    return settings.audit.key_name or settings.audit.origin


def ensure_signing_key(settings: Settings) -> bool:
    """Create the signing key (mode 0600) if it does not exist; return whether it did now.

    An existing key is never replaced, even by a concurrent ``init``.
    """
    path = signing_key_path(settings)
    if path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        save_private_key(path, generate_signing_key())
    except FileExistsError:
        return False
    return True


def load_signer(settings: Settings) -> Signer:
    """The signing key and its name; raises ``SigningKeyMissing`` if there is no key file."""
    path = signing_key_path(settings)
    if not path.is_file():
        raise SigningKeyMissing(
            f"the audit signing key {path} does not exist; run 'records-service init'"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("audit signing key %s is readable by others (mode %o); chmod 600", path, mode)
    return Signer(name=key_name(settings), private_key=load_private_key(path))


def current_verifier_key(settings: Settings) -> str:
    """The verifier key of the current signing key (``SigningKeyMissing`` without one)."""
    return load_signer(settings).verifier_key


def trusted_keys(settings: Settings) -> list[str]:
    """Every verifier key whose checkpoints this log accepts: current first, then retired.

    Without a key file only the retired keys are returned.
    """
    keys = [text.strip() for text in settings.audit.previous_public_keys]
    for text in keys:
        parse_verifier_key(text)  # fail early on a mistyped setting
    if signing_key_path(settings).is_file():
        keys.insert(0, current_verifier_key(settings))
    return keys


def read_key_file(path: Path) -> list[str]:
    """Verifier keys from a text file, one per line (blank lines and ``#`` comments ignored)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for text in keys:
        parse_verifier_key(text)
    return keys
