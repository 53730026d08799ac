"""The HTTP headers that go with a version's bytes, shared by the API and the web pages."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from records_service.records.models import Version

Disposition = Literal["attachment", "inline"]


def content_disposition(filename: str, kind: Disposition = "attachment") -> str:
    """A safe ``Content-Disposition``: an ASCII fallback plus the RFC 5987 UTF-8 name."""
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def content_headers(version: Version, kind: Disposition = "attachment") -> dict[str, str]:
    """Headers for streaming ``version``: its SHA-256 as ETag, its size and its name."""
    return {
        "ETag": f'"{version.sha256}"',
        "Content-Length": str(version.size),
        "Content-Disposition": content_disposition(version.original_filename, kind),
        "X-Content-Type-Options": "nosniff",
    }
