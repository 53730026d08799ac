"""Where an import's files come from: a directory tree, or a zip archive read in place.

A source lists its files in a fixed order (by path), each with its path relative to
the source ("/" between folders, Unicode NFC), size and modification time, and opens
one file at a time for reading. Nothing is extracted to disk and nothing outside the
source is read:

* a directory's symbolic links are never followed, and files are opened with
  ``O_NOFOLLOW``;
* a zip entry whose name is absolute or climbs out with ``..`` is refused, as is
  one that is encrypted or uses a compression ``zipfile`` cannot read;
* against zip bombs, an entry may declare at most the upload limit, and an entry
  over :data:`~records_service.extraction.model.RATIO_FLOOR_BYTES` may expand at
  most the extraction limits' compression ratio; the whole archive may expand at
  most that ratio, and entries whose data overlap (the trick that makes a small
  archive expand without bound) refuse the whole archive. ``zipfile`` itself never
  inflates an entry beyond its declared size and checks its CRC.

A refused file is still listed, with its reason, so that the report names it.
"""

from __future__ import annotations

import os
import stat
import unicodedata
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, cast

from records_service.bounds import check_text
from records_service.errors import InvalidInput
from records_service.extraction.model import RATIO_FLOOR_BYTES, ExtractionLimits
from records_service.imports.models import MAX_PATH_LENGTH

_LOCAL_HEADER_SIZE = 30
_READABLE = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SourceLimits:
    """How large a file may be, and how far a zip entry may expand."""

    max_file_bytes: int
    max_compression_ratio: float = ExtractionLimits().max_compression_ratio


@dataclass(frozen=True)
class SourceFile:
    """One file of a source; ``refusal`` says why it cannot be imported, if so."""

    path: str
    size: int
    modified_at: datetime
    refusal: str | None = None

    @property
    def name(self) -> str:
        """The file's own name (the last part of its path)."""
        return self.path.rsplit("/", 1)[-1]


class Source(ABC):
    """A directory tree or a zip archive; close it (or use ``with``) when done."""

    def __init__(self, location: Path) -> None:
        self.location = location

    @abstractmethod
    def files(self) -> list[SourceFile]:
        """Every file, by path."""

    @abstractmethod
    def open(self, file: SourceFile) -> BinaryIO:
        """A binary stream of the file's bytes; the caller closes it."""

    def close(self) -> None:  # noqa: B027 (a directory holds nothing open)
        """Release what the source holds open."""

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_source(path: Path, limits: SourceLimits) -> Source:
    """The source at ``path``: a directory or a zip archive; ``InvalidInput`` otherwise."""
    if path.is_dir():
        return DirectorySource(path.resolve(), limits)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipSource(path.resolve(), limits)
    raise InvalidInput(f"{path} is neither a directory nor a zip archive")


def _path_problem(path: str) -> str | None:
    """Why ``path`` cannot be kept as a file's original path, if it cannot."""
    if len(path) > MAX_PATH_LENGTH:
        return f"its path is longer than {MAX_PATH_LENGTH} characters"
    try:
        check_text(path)
        path.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return "its name holds control characters or is not valid text"
    return None


def _too_large(size: int, limits: SourceLimits) -> str | None:
    if size > limits.max_file_bytes:
        return f"it is {size} bytes, over the upload limit of {limits.max_file_bytes}"
    return None


class DirectorySource(Source):
    """A directory tree on a local file system; symbolic links are not followed."""

    def __init__(self, root: Path, limits: SourceLimits) -> None:
        super().__init__(root)
        self._limits = limits

    def files(self) -> list[SourceFile]:
        found: list[SourceFile] = []
        for folder, dirs, names in os.walk(self.location, followlinks=False):
            dirs.sort()
            here = Path(folder)
            linked = [d for d in dirs if (here / d).is_symlink()]
            for name in sorted([*names, *linked]):
                found.append(self._describe(here / name))
        return sorted(found, key=lambda f: f.path)

    def _describe(self, full: Path) -> SourceFile:
        relative = unicodedata.normalize("NFC", full.relative_to(self.location).as_posix())
        info = full.lstat()
        modified = datetime.fromtimestamp(info.st_mtime, UTC)
        refusal = _path_problem(relative)
        if stat.S_ISLNK(info.st_mode):
            refusal = "it is a symbolic link, which an import does not follow"
        elif not stat.S_ISREG(info.st_mode):
            refusal = "it is not a regular file"
        return SourceFile(
            relative, info.st_size, modified, refusal or _too_large(info.st_size, self._limits)
        )

    def open(self, file: SourceFile) -> BinaryIO:
        # The path was listed under the root; O_NOFOLLOW refuses a link put in its place.
        descriptor = os.open(self.location / file.path, os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(descriptor, "rb")


class ZipSource(Source):
    """A zip archive read in place, entry by entry."""

    def __init__(self, archive_path: Path, limits: SourceLimits) -> None:
        super().__init__(archive_path)
        self._limits = limits
        try:
            self._archive = zipfile.ZipFile(archive_path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidInput(f"{archive_path} cannot be read as a zip archive: {exc}") from None
        self._entries: dict[str, zipfile.ZipInfo] = {}
        try:
            self._check_archive()
        except BaseException:
            self._archive.close()
            raise

    def _check_archive(self) -> None:
        """Refuse an archive that expands too far or whose entries overlap."""
        members = self._archive.infolist()
        archive_size = self.location.stat().st_size
        total = sum(m.file_size for m in members)
        if total > self._limits.max_compression_ratio * max(archive_size, 1):
            raise InvalidInput(
                f"{self.location.name} would expand to {total} bytes, more than "
                f"{self._limits.max_compression_ratio:g} times its size: refused as a zip bomb"
            )
        ordered = sorted(members, key=lambda m: m.header_offset)
        for first, second in pairwise(ordered):
            if first.header_offset + _LOCAL_HEADER_SIZE + first.compress_size > (
                second.header_offset
            ):
                raise InvalidInput(
                    f"{self.location.name} has entries whose data overlap "
                    f"({first.filename!r}, {second.filename!r}): refused as a zip bomb"
                )

    def files(self) -> list[SourceFile]:
        found: dict[str, SourceFile] = {}
        extra: list[SourceFile] = []
        for info in self._archive.infolist():
            if info.is_dir():
                continue
            file = self._describe(info)
            if file.path in found:
                extra.append(_refused(file, "a second entry with the same name"))
                continue
            found[file.path] = file
            if file.refusal is None:
                self._entries[file.path] = info
        return sorted([*found.values(), *extra], key=lambda f: f.path)

    def _describe(self, info: zipfile.ZipInfo) -> SourceFile:
        path = unicodedata.normalize("NFC", info.filename.replace("\\", "/"))
        try:
            modified = datetime(*info.date_time, tzinfo=UTC)
        except ValueError:
            modified = _ZIP_EPOCH
        refusal = _entry_problem(path, info, self._limits)
        return SourceFile(path, info.file_size, modified, refusal)

    def open(self, file: SourceFile) -> BinaryIO:
        return cast(BinaryIO, self._archive.open(self._entries[file.path]))

    def close(self) -> None:
        self._archive.close()


def _refused(file: SourceFile, reason: str) -> SourceFile:
    return SourceFile(file.path, file.size, file.modified_at, reason)


def _entry_problem(path: str, info: zipfile.ZipInfo, limits: SourceLimits) -> str | None:
    """Why a zip entry cannot be imported, if it cannot."""
    parts = path.split("/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "its name is an absolute path"
    if ".." in parts:
        return "its name leads out of the archive (..)"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    if info.compress_type not in _READABLE:
        return f"it uses a compression method ({info.compress_type}) that cannot be read"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
        return (
            f"it expands {ratio:.0f} times, over the limit of "
            f"{limits.max_compression_ratio:g}: refused as a zip bomb"
        )
    return _path_problem(path) or _too_large(info.file_size, limits)


@contextmanager
def opened(source: Source, file: SourceFile) -> Iterator[BinaryIO]:
    """``source.open(file)`` for a ``with`` block."""
    stream = source.open(file)
    try:
        yield stream
    finally:
        stream.close()
