"""The plain-text extractor, used for text/plain, text/markdown and text/csv.

Markdown and CSV keep their raw text: the search index's tokenizer drops the
punctuation, and snippets stay faithful to the file. The bytes are decoded as UTF-8
(with or without a byte order mark), falling back to Windows-1252 and then Latin-1,
which decodes anything. Only as many bytes as ``max_chars`` could need are read.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from records_service.extraction._budget import TextBudget, failures_as

_READ_CHUNK = 1024 * 1024
# UTF-8 needs at most four bytes per character; the other encodings need one.
_MAX_BYTES_PER_CHAR = 4


def extract_plain_text(path: Path, budget: TextBudget) -> None:
    """Feed the decoded text of the file into ``budget``."""
    with failures_as("unreadable text file"):
        data, complete = _read_bounded(path, budget)
    budget.add(decode_text(data, complete=complete))


def decode_text(data: bytes, *, complete: bool = True) -> str:
    """Decode bytes as UTF-8, else Windows-1252, else Latin-1; normalise line ends.

    ``complete`` is False when ``data`` is a prefix of the file, so a multi-byte
    character cut at the end does not count as invalid UTF-8.
    """
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=complete)
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return text.replace("\r\n", "\n")


def _read_bounded(path: Path, budget: TextBudget) -> tuple[bytes, bool]:
    """Read at most what ``max_chars`` characters can take; say if the file was complete."""
    wanted = budget.limits.max_chars * _MAX_BYTES_PER_CHAR + len(codecs.BOM_UTF8)
    chunks: list[bytes] = []
    with path.open("rb") as stream:
        while wanted > 0:
            budget.check_time()
            chunk = stream.read(min(_READ_CHUNK, wanted))
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            wanted -= len(chunk)
        complete = not stream.read(1)
    return b"".join(chunks), complete
