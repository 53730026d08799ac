"""Transfer packages: a record, its metadata, content and history, zipped and written once.

The package is built in a temporary file while each version's bytes are re-hashed
against the recorded SHA-256 (a transfer never passes on damaged content), then
written once to the blob store under ``transfers/<record-id>/`` or to a
configured directory. A retry after a failure finds the complete package already
there (both writes are atomic) and reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from records_service.storage import BlobStore, ObjectExists

CHUNK = 1024 * 1024


class TransferError(Exception):
    """The package could not be built or written; nothing has been deleted."""


@dataclass(frozen=True)
class PackageVersion:
    """One version to put in the package."""

    number: int
    storage_key: str
    sha256: str
    filename: str


@dataclass(frozen=True)
class TransferPackage:
    """Where the package went and its SHA-256."""

    location: str
    sha256: str


def build_package(
    store: BlobStore, manifest: dict[str, Any], versions: list[PackageVersion], out: IO[bytes]
) -> None:
    """Write the zip (``manifest.json`` and ``content/v<N>/<filename>``) to ``out``."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "manifest.json", json.dumps(manifest, indent=2, sort_keys=True, default=str)
        )
        for version in versions:
            name = f"content/v{version.number}/{version.filename}"
            digest = hashlib.sha256()
            with archive.open(name, "w", force_zip64=True) as member:
                for chunk in store.open(version.storage_key):
                    digest.update(chunk)
                    member.write(chunk)
            if digest.hexdigest() != version.sha256:
                raise TransferError(
                    f"version {version.number} does not match its recorded sha256; "
                    "the fixity check will report it"
                )


def _file_sha256(handle: IO[bytes]) -> str:
    handle.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def _store_sha256(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def write_package(
    store: BlobStore,
    *,
    name: str,
    record_id: str,
    manifest: dict[str, Any],
    versions: list[PackageVersion],
    directory: Path | None,
) -> TransferPackage:
    """Build the package and write it once; an existing complete package is reused."""
    with tempfile.TemporaryFile() as handle:
        build_package(store, manifest, versions, handle)
        handle.flush()
        digest = _file_sha256(handle)
        if directory is None:
            return _to_store(store, f"transfers/{record_id}/{name}", handle, digest)
        return _to_directory(directory / f"{record_id}-{name}", handle, digest)


def _to_store(store: BlobStore, key: str, handle: IO[bytes], digest: str) -> TransferPackage:
    try:
        store.put(key, handle, content_type="application/zip")  # type: ignore[arg-type]
    except ObjectExists:
        return TransferPackage(key, _store_sha256(store.open(key)))
    return TransferPackage(key, digest)


def _to_directory(target: Path, handle: IO[bytes], digest: str) -> TransferPackage:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        with target.open("rb") as existing:
            return TransferPackage(str(target), _file_sha256(existing))
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".transfer-")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.link(temp, target)  # fails if the name is taken: written once
    except OSError as exc:
        raise TransferError(f"cannot write the transfer package {target.name}: {exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return TransferPackage(str(target), digest)
