"""The zip-bomb guard run before python-docx opens an archive.

Two checks, both before any XML is parsed:

1. The declared sizes: the total uncompressed size must stay within
   ``max_uncompressed_bytes`` and no large member may expand by more than
   ``max_compression_ratio``. This refuses an honest bomb after reading only the zip
   directory.
2. The real sizes: every member is inflated in bounded steps and must not produce more
   than its declared size. ``zipfile`` trusts the declared size only after inflating a
   whole read at once, so a member that lies about its size could otherwise make
   python-docx allocate far more than the limits allow.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from records_service.extraction._budget import ExtractionFailure, TextBudget, failures_as
from records_service.extraction.model import RATIO_FLOOR_BYTES

_LOCAL_HEADER_SIZE = 30
_LOCAL_HEADER_MAGIC = b"PK\x03\x04"
_READ_CHUNK = 64 * 1024


def check_zip_limits(path: Path, budget: TextBudget) -> None:
    """Raise ``ExtractionFailure`` unless the archive expands within the budget's limits."""
    with failures_as("malformed DOCX"), zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        _check_declared_sizes(members, budget)
        with path.open("rb") as raw:
            for member in members:
                _check_real_size(raw, member, budget)


def _check_declared_sizes(members: list[zipfile.ZipInfo], budget: TextBudget) -> None:
    limits = budget.limits
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise ExtractionFailure(
            f"DOCX expands to {total} bytes, over the limit of {limits.max_uncompressed_bytes}"
        )
    for member in members:
        if member.file_size <= RATIO_FLOOR_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise ExtractionFailure(
                f"DOCX member {member.filename!r} has compression ratio {ratio:.0f}, "
                f"over the limit of {limits.max_compression_ratio:g}"
            )


def _check_real_size(raw: BinaryIO, member: zipfile.ZipInfo, budget: TextBudget) -> None:
    """Inflate one member in bounded steps, failing if it outgrows its declared size."""
    if member.flag_bits & 0x1:
        raise ExtractionFailure(f"DOCX member {member.filename!r} is encrypted")
    _seek_to_data(raw, member)
    if member.compress_type == zipfile.ZIP_STORED:
        if member.compress_size != member.file_size:
            raise ExtractionFailure(f"DOCX member {member.filename!r} has inconsistent sizes")
        return
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise ExtractionFailure(f"DOCX member {member.filename!r} uses unsupported compression")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    left = member.compress_size
    pending = b""
    while not inflater.eof and (pending or left > 0):
        budget.check_time()
        if not pending:
            pending = raw.read(min(_READ_CHUNK, left))
            if not pending:
                break
            left -= len(pending)
        # A positive max_length bounds each step; one byte past the declared size is
        # enough to prove the lie.
        produced += len(inflater.decompress(pending, member.file_size - produced + 1))
        pending = inflater.unconsumed_tail
        if produced > member.file_size:
            raise ExtractionFailure(
                f"DOCX member {member.filename!r} expands beyond its declared size"
            )


def _seek_to_data(raw: BinaryIO, member: zipfile.ZipInfo) -> None:
    raw.seek(member.header_offset)
    header = raw.read(_LOCAL_HEADER_SIZE)
    if len(header) < _LOCAL_HEADER_SIZE or not header.startswith(_LOCAL_HEADER_MAGIC):
        raise ExtractionFailure(f"DOCX member {member.filename!r} has a broken local header")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    raw.seek(member.header_offset + _LOCAL_HEADER_SIZE + name_length + extra_length)
