"""Builders for DOCX-shaped zip bombs, written by hand so they cost nothing to make.

A deflate stream of zeros is assembled from one compressed mebibyte repeated: after a
full flush the compressor starts afresh, so each repetition is the same bytes. The zip
structure is written directly, which also lets a member lie about its size.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MIB = 1024 * 1024
_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)


def deflated_zeros(mebibytes: int) -> bytes:
    """A raw deflate stream that inflates to ``mebibytes`` MiB of zero bytes."""
    block = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + repeat * (mebibytes - 1) + compressor.flush()


def write_docx_bomb(path: Path, *, mebibytes: int, declared_size: int | None = None) -> Path:
    """Write a zip with a ``word/document.xml`` of ``mebibytes`` MiB of zeros.

    ``declared_size`` overrides the size written in the headers, to make a member that
    lies about how far it expands.
    """
    real_size = mebibytes * MIB
    members = [
        ("[Content_Types].xml", zlib.compress(_CONTENT_TYPES)[2:-4], _CONTENT_TYPES),
    ]
    content_types_crc = zlib.crc32(_CONTENT_TYPES)
    document = deflated_zeros(mebibytes)
    entries = [
        (members[0][0], members[0][1], content_types_crc, len(_CONTENT_TYPES)),
        ("word/document.xml", document, 0, declared_size or real_size),
    ]
    path.write_bytes(_zip_bytes(entries))
    return path


def _zip_bytes(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    local_parts: list[bytes] = []
    central_parts: list[bytes] = []
    offset = 0
    for name, data, crc, size in entries:
        raw_name = name.encode()
        # What both headers hold alike: flags, method (deflate), time, date, CRC,
        # compressed and uncompressed sizes, name length, extra length.
        shared = (0, 8, 0, 0x21, crc, len(data), size, len(raw_name), 0)
        local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, *shared)
        # The central header adds the version made by, then comment length, disk,
        # internal and external attributes, and the local header's offset.
        central_parts.append(
            struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, *shared, 0, 0, 0, 0, offset)
            + raw_name
        )
        local_parts.append(local + raw_name + data)
        offset += len(local) + len(raw_name) + len(data)
    central = b"".join(central_parts)
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), offset, 0
    )
    return b"".join(local_parts) + central + end
