"""Inline previews of a version: PDFs in a frame, text as text, other formats by their
extracted text. Every preview is a read of the content and is audited as one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from records_service.auth.models import User
from records_service.clock import Clock
from records_service.extraction.media_types import PDF, normalise
from records_service.records.models import Record, RecordStatus, Version
from records_service.records.service import open_content, read_extracted_text
from records_service.storage import BlobStore

PREVIEW_BYTES = 64 * 1024
GONE = frozenset({RecordStatus.DISPOSED.value, RecordStatus.TRANSFERRED.value})
PREVIEW_CHARS = 20_000


@dataclass(frozen=True)
class Preview:
    """What the record page shows for one version."""

    kind: Literal["pdf", "text", "extracted", "none", "gone"]
    version: int
    text: str = ""
    truncated: bool = False


def _decode(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _leading_bytes(chunks: Iterator[bytes], limit: int) -> tuple[bytes, bool]:
    collected = bytearray()
    try:
        for chunk in chunks:
            collected.extend(chunk)
            if len(collected) > limit:
                return bytes(collected[:limit]), True
    finally:
        # Stop reading the rest of a large object from the store.
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return bytes(collected), False


def build_preview(
    session: Session,
    store: BlobStore,
    *,
    record: Record,
    version: Version,
    actor: User,
    clock: Clock,
    replica: BlobStore | None = None,
) -> Preview:
    """The preview of ``version``, auditing the read when content is shown on the page."""
    if record.status in GONE:
        return Preview("gone", version.number)
    media_type = normalise(version.media_type)
    if media_type == PDF:
        # The frame's own request reads (and audits) the content.
        return Preview("pdf", version.number)
    if media_type.startswith("text/"):
        _, chunks = open_content(
            session,
            store,
            record_id=record.id,
            number=version.number,
            actor=actor,
            clock=clock,
            replica=replica,
            verify=False,  # the page's transaction has begun: no hashing under its lock
        )
        data, truncated = _leading_bytes(chunks, PREVIEW_BYTES)
        if truncated:
            # Do not show a character cut in half at the limit.
            data = data[: data.rfind(b"\n") + 1] or data
        return Preview("text", version.number, _decode(data), truncated)
    extracted = read_extracted_text(
        session, record=record, version=version, actor=actor, clock=clock
    )
    if extracted is None:
        return Preview("none", version.number)
    text = extracted[:PREVIEW_CHARS]
    return Preview("extracted", version.number, text, len(extracted) > PREVIEW_CHARS)
