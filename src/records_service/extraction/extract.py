"""The public extraction entry point: any supported document to text, within limits."""

from __future__ import annotations

from pathlib import Path

from records_service.extraction._isolation import ExtractionWorker, run_isolated
from records_service.extraction._pool import ExtractionPool
from records_service.extraction.model import ExtractionLimits, ExtractionResult
from records_service.extraction.registry import extractor_for


def extract_text(
    path: Path,
    media_type: str,
    limits: ExtractionLimits = ExtractionLimits(),
    *,
    worker: ExtractionWorker | ExtractionPool | None = None,
) -> ExtractionResult:
    """Extract the text of the file at ``path``, read as ``media_type``.

    ``media_type`` should come from ``sniff_path`` or ``sniff_media_type``, not from the
    client. The work runs in a separate worker process that is killed ``max_seconds``
    (plus a short grace period) after it starts, so a pathological file cannot hang the
    caller. Never raises for bad content: unsupported
    types, unreadable documents, exceeded limits and crashed workers all become a
    ``failed`` result with a short reason; a readable document without text is
    ``empty``. ``worker`` is a long-lived worker (or a pool of them) to use instead of starting one.
    """
    if extractor_for(media_type) is None:
        return ExtractionResult.failed(f"no extractor for {media_type}")
    if worker is not None:
        return worker.extract(path, media_type, limits)
    return run_isolated(path, media_type, limits)
