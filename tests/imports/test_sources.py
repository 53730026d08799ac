"""Sources read in place: a zip's unsafe entries and bombs are refused, a directory's
symbolic links are not followed, and a document's own date and title are read."""

from __future__ import annotations

import io
import random
import struct
import warnings
import zipfile
from datetime import date
from pathlib import Path

import pytest

from imports.legacy import FIXTURES, pdf_bytes
from records_service.errors import InvalidInput
from records_service.extraction.media_types import DOCX, EMAIL, PDF
from records_service.extraction.properties import read_properties
from records_service.imports.sources import SourceLimits, open_source, opened

LIMITS = SourceLimits(max_file_bytes=4 * 1024 * 1024)


def _zip(path: Path, entries: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    pairs = list(entries.items()) if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a second entry of one name, on purpose
        for name, data in pairs:
            out.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return path


def test_zip_entries_are_read_in_place_and_unsafe_names_refused(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "old.zip",
        [
            ("Covid/2020-04-01 grant.txt", b"grant\n"),
            ("../outside.txt", b"x\n"),
            ("/etc/passwd", b"x\n"),
            ("C:/boot.ini", b"x\n"),
            ("Covid/2020-04-01 grant.txt", b"another\n"),
        ],
    )
    with open_source(archive, LIMITS) as source:
        files = [(f.path, f.refusal) for f in source.files()]
        good = next(f for f in source.files() if f.refusal is None)
        with opened(source, good) as stream:
            assert stream.read() == b"grant\n"  # the first entry of the name
    refusals = dict(files[:3])
    assert "leads out" in str(refusals["../outside.txt"])
    assert "absolute" in str(refusals["/etc/passwd"]) and "absolute" in str(refusals["C:/boot.ini"])
    assert files[3:] == [
        ("Covid/2020-04-01 grant.txt", None),
        ("Covid/2020-04-01 grant.txt", "a second entry with the same name"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.zip"]  # nothing extracted


def test_zip_bombs_are_refused(tmp_path: Path) -> None:
    zeros = b"\x00" * (3 * 1024 * 1024)  # deflates about a thousand times
    with open_source(
        _zip(tmp_path / "one.zip", {"big.txt": zeros, "ok.txt": b"ok" * 40_000}),
        SourceLimits(max_file_bytes=4 * 1024 * 1024, max_compression_ratio=2000),
    ) as source:
        assert [f.refusal for f in source.files()] == [None, None]
    with pytest.raises(InvalidInput, match="zip bomb"):
        open_source(tmp_path / "one.zip", LIMITS)  # the whole archive expands too far
    entry = _zip(
        tmp_path / "entry.zip",
        {"big.txt": zeros, "padding.bin": random.Random(22).randbytes(40_000)},
    )
    with open_source(entry, LIMITS) as source:
        refusals = {f.path: f.refusal for f in source.files()}
    assert "zip bomb" in str(refusals["big.txt"]) and refusals["padding.bin"] is None


def test_a_zip_whose_entries_overlap_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "overlap.zip", {"a.txt": b"a" * 100, "b.txt": b"b" * 100})
    data = bytearray(archive.read_bytes())
    second = data.rfind(b"PK\x01\x02")  # the second entry's central directory record
    struct.pack_into("<I", data, second + 42, 0)  # ... now points at the first entry's data
    archive.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="overlap"):
        open_source(archive, LIMITS)


def test_a_directory_is_listed_by_path_without_following_links(tmp_path: Path) -> None:
    root, outside = tmp_path / "tree", tmp_path / "outside"
    (root / "b").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret\n")
    (root / "b" / "z.txt").write_bytes(b"z\n")
    (root / "a.txt").write_bytes(b"a\n")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "folder").symlink_to(outside)
    with open_source(root, LIMITS) as source:
        files = source.files()
    assert [f.path for f in files] == ["a.txt", "b/z.txt", "folder", "link.txt"]
    assert [f.refusal is None for f in files] == [True, True, False, False]
    assert "symbolic link" in str(files[3].refusal)
    with pytest.raises(InvalidInput, match="neither a directory nor a zip"):
        open_source(root / "a.txt", LIMITS)


def test_documents_give_their_own_dates_and_titles() -> None:
    pdf = read_properties(io.BytesIO(pdf_bytes("20161005")), PDF)
    docx = read_properties(io.BytesIO((FIXTURES / "commissioning-plan.docx").read_bytes()), DOCX)
    mail = read_properties(io.BytesIO((FIXTURES / "monitoring-return.eml").read_bytes()), EMAIL)
    assert pdf.created == date(2016, 10, 5)
    assert (docx.created, docx.title) == (date(2024, 4, 1), "Commissioning plan")
    assert (mail.created, mail.title) == (date(2024, 4, 2), "Quarterly monitoring return")
    assert read_properties(io.BytesIO(b"%PDF-1.4 broken"), PDF).created is None
    assert read_properties(io.BytesIO(b"PK\x03\x04 not a zip"), DOCX).created is None
