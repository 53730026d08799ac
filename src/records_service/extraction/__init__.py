"""Text extraction: sniff an upload's real media type and extract its text within limits.

One extractor per media type (PDF, DOCX, e-mail, plain text, Markdown, CSV) sits behind
a registry. Callers sniff the stored bytes, then call ``extract_text``, which never
raises for bad content and reports ``extracted``, ``empty`` or ``failed`` with a reason.
An ``ExtractionWorker`` keeps one worker process for many documents; an
``ExtractionPool`` keeps several, to spread a backlog over the cores.
"""

from records_service.extraction._isolation import ExtractionWorker
from records_service.extraction._pool import ExtractionPool, one_by_one
from records_service.extraction.extract import extract_text
from records_service.extraction.model import ExtractionLimits, ExtractionResult
from records_service.extraction.registry import supported_media_types
from records_service.extraction.sniff import SNIFF_BYTES, sniff_media_type, sniff_path

__all__ = [
    "SNIFF_BYTES",
    "ExtractionLimits",
    "ExtractionPool",
    "ExtractionResult",
    "ExtractionWorker",
    "extract_text",
    "one_by_one",
    "sniff_media_type",
    "sniff_path",
    "supported_media_types",
]
