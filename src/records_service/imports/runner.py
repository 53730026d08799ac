"""One run of an import: each file of the source matched, hashed, mapped and then
captured, recorded as a duplicate sighting, or reported as left out or failed.

The files are taken in path order, in groups of up to :data:`GROUP_FILES` files (or
as many as the run says) and :data:`GROUP_BYTES` bytes. A thread reads, hashes and
maps the next group while the current one is written. A group is written as a whole
(:mod:`records_service.imports.writing`): first the content of every file it captures
is stored (each object durable before anything refers to it), then one short
transaction writes every record, version, index task, queued sidecar, audit entry and
file outcome of the group, laid out beforehand as a single capture lays out its own.
After a crash a group has all its rows or none; objects stored for a group that never
committed sit under keys fixed by the batch and path, where the next run finds and
replaces them. When the capture refuses a file of the group, the group is written
again one file at a time, so that only that file fails.

A file's bytes are read once to hash them (kept in memory up to :data:`MEMORY_LIMIT`,
read again from the source when larger, so memory stays flat whatever the tree holds).
A dry run goes through exactly the same steps and decisions and writes nothing: what it
would capture it only remembers, so a later file with the same bytes shows as the
duplicate it would be.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from typing import BinaryIO

from records_service.auth.models import User
from records_service.db import read_scope
from records_service.errors import DomainError
from records_service.extraction import sniff_media_type
from records_service.extraction.properties import DocumentProperties, read_properties
from records_service.imports.batches import FileOutcome, Settled, import_record_id
from records_service.imports.mapping import Mapping, Rule
from records_service.imports.models import ImportBatch, Outcome
from records_service.imports.resolve import Unmappable, mapped_json, resolve
from records_service.imports.sources import Source, SourceFile, opened
from records_service.imports.writing import ToCapture, write_group
from records_service.records.capture import CaptureContext
from records_service.records.content import clean_filename
from records_service.records.schemas import RecordMetadata
from records_service.records.service import held_versions
from records_service.storage import read_into

MEMORY_LIMIT = 16 * 1024 * 1024
# A group's bounds: enough files to share one commit's log sync and the directory
# syncs among many, few enough bytes that two groups in memory stay small, and a
# transaction short enough to hold the write lock briefly (docs/benchmarks.md).
GROUP_FILES = 50
MAX_GROUP_FILES = 500
GROUP_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileResult:
    """What became of one file in this run; ``earlier`` if an earlier run settled it."""

    file: SourceFile
    size: int
    outcome: FileOutcome
    meta: RecordMetadata | None = None
    earlier: bool = False

    def to_write(self) -> Settled:
        return Settled(self.file, self.size, self.outcome)


class Content:
    """One file's bytes: hashed on the first read, and opened again as often as needed."""

    def __init__(self, source: Source, file: SourceFile) -> None:
        self._source, self._file = source, file
        digest = hashlib.sha256()
        with opened(source, file) as stream:
            first = stream.read(MEMORY_LIMIT + 1)
            digest.update(first)
            size = len(first)
            self._data: bytes | None = first if size <= MEMORY_LIMIT else None
            buffer = bytearray(_CHUNK)
            while self._data is None and (count := read_into(stream, buffer)):
                digest.update(memoryview(buffer)[:count])
                size += count
        self.sha256, self.size = digest.hexdigest(), size
        self.media_type = sniff_media_type(first[:8192], file.name)

    @contextmanager
    def stream(self) -> Iterator[BinaryIO]:
        """The bytes from the start."""
        if self._data is not None:
            yield io.BytesIO(self._data)
            return
        with opened(self._source, self._file) as stream:
            yield stream

    def properties(self) -> DocumentProperties:
        """What the document says about itself (read on first use)."""
        with self.stream() as stream:
            return read_properties(stream, self.media_type)


def _refusal(file: SourceFile, content: Content) -> str:
    """What the capture would refuse in the file itself, found before it is tried, so
    that a dry run reports it too."""
    if content.size == 0:
        return "the file is empty"
    try:
        clean_filename(file.name)
    except DomainError as exc:
        return exc.detail
    return ""


def groups(files: list[SourceFile], most: int = GROUP_FILES) -> Iterator[list[SourceFile]]:
    """``files`` in order, in groups of at most ``most`` files and (unless a file is
    larger by itself) :data:`GROUP_BYTES` bytes."""
    group: list[SourceFile] = []
    size = 0
    for file in files:
        if group and (len(group) == most or size + file.size > GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append(file)
        size += file.size
    if group:
        yield group


@dataclass(frozen=True)
class _Read:
    """A file read, hashed and mapped, whose outcome depends on what is already held."""

    file: SourceFile
    content: Content
    rule: Rule
    meta: RecordMetadata | None
    problem: str  # why the mapping cannot give its metadata ("" if it can)

    @property
    def base(self) -> FileOutcome:
        mapped = mapped_json(self.meta) if self.meta else None
        return FileOutcome(Outcome.FAILED, "", self.content.sha256, self.rule.line, mapped)


@dataclass(frozen=True)
class _Capture:
    """A file to capture as the record ``record_id``."""

    read: _Read
    meta: RecordMetadata
    record_id: str

    def outcome(self) -> FileOutcome:
        base = self.read.base
        return replace(base, outcome=Outcome.CAPTURED, record_id=self.record_id, version=1)

    def result(self) -> FileResult:
        return FileResult(self.read.file, self.read.content.size, self.outcome(), self.meta)

    def refused(self, reason: str) -> FileResult:
        """The file failed: the capture refused it for ``reason``."""
        failed = replace(self.read.base, reason=reason)
        return FileResult(self.read.file, self.read.content.size, failed, self.meta)

    def to_write(self) -> ToCapture:
        settled = Settled(self.read.file, self.read.content.size, self.outcome())
        return ToCapture(settled, self.meta, self.read.content.stream)


Held = dict[str, tuple[str, int]]  # sha256 -> the record and version holding the bytes


@dataclass
class ImportRun:
    """The state of one run: what it needs, and (in a dry run) what it would have held."""

    ctx: CaptureContext
    mapping: Mapping
    source: Source
    actor: User
    batch: ImportBatch | None  # None: a dry run of a batch not started yet
    dry_run: bool = False
    done: set[str] = field(default_factory=set)
    would_hold: dict[str, str] = field(default_factory=dict)  # sha256 -> path (dry run)
    group_files: int = GROUP_FILES

    def files(self, files: list[SourceFile]) -> Iterator[FileResult]:
        """Each file's result, in order, a group at a time; the next group is read
        while the current one is written."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-read") as reader:
            parts = groups(files, self.group_files)
            reads = (reader.submit(self._read_group, group) for group in parts)
            ahead = next(reads, None)
            while ahead is not None:
                current, ahead = ahead, next(reads, None)
                yield from self._settle_group(current.result())

    def _read_group(self, group: list[SourceFile]) -> list[FileResult | _Read]:
        return [self._read(file) for file in group]

    def _read(self, file: SourceFile) -> FileResult | _Read:
        """What can be decided from the file alone, or the file read and mapped."""
        if file.path in self.done:
            return FileResult(file, file.size, FileOutcome(Outcome.CAPTURED), earlier=True)
        if file.refusal is not None:
            return FileResult(file, file.size, FileOutcome(Outcome.FAILED, file.refusal))
        found = self.mapping.match(file.path)
        if found is None:
            outcome = FileOutcome(Outcome.UNMATCHED, "no rule of the mapping matches its path")
            return FileResult(file, file.size, outcome)
        rule, named = found
        if rule.skip:
            reason = f"rule {rule.number} (line {rule.line}) leaves it out"
            return FileResult(file, file.size, FileOutcome(Outcome.SKIPPED, reason, rule=rule.line))
        try:
            content = Content(self.source, file)
        except (OSError, ValueError, EOFError) as exc:
            failed = FileOutcome(Outcome.FAILED, f"unreadable: {exc}")
            return FileResult(file, file.size, failed)
        try:
            meta = resolve(rule, named, file, cache(content.properties), self.ctx.clock().date())
        except Unmappable as exc:
            return _Read(file, content, rule, None, str(exc))
        return _Read(file, content, rule, meta, "")

    def _decide(self, read: _Read, held: Held) -> FileResult | _Capture:
        """A duplicate, a refusal, or a capture (in a dry run, what it would be)."""
        file, content, base = read.file, read.content, read.base
        duplicate = self._duplicate(read, held)
        if duplicate is not None:
            return FileResult(file, content.size, duplicate, read.meta)
        refusal = read.problem or _refusal(file, content)
        if refusal:
            return FileResult(file, content.size, replace(base, reason=refusal), read.meta)
        assert read.meta is not None
        if self.dry_run:
            self.would_hold[content.sha256] = file.path
            return FileResult(
                file, content.size, replace(base, outcome=Outcome.CAPTURED), read.meta
            )
        assert self.batch is not None
        record_id = import_record_id(self.batch, file.path)
        held[content.sha256] = (record_id, 1)  # later files with these bytes are sightings
        return _Capture(read, read.meta, record_id)

    def _duplicate(self, read: _Read, held: Held) -> FileOutcome | None:
        sha256, base = read.content.sha256, read.base
        if sha256 in held:
            record_id, version = held[sha256]
            reason = f"its bytes are held by record {record_id} (version {version})"
            return replace(
                base, outcome=Outcome.DUPLICATE, reason=reason, record_id=record_id, version=version
            )
        if sha256 in self.would_hold:
            reason = f"the same bytes as {self.would_hold[sha256]}, captured before it"
            return replace(base, outcome=Outcome.DUPLICATE, reason=reason)
        return None

    def _held(self, items: Iterable[FileResult | _Read]) -> Held:
        hashes = {item.content.sha256 for item in items if isinstance(item, _Read)}
        if not hashes:
            return {}
        with read_scope(self.ctx.engine) as session:
            return held_versions(session, hashes)

    def _settle_group(self, items: list[FileResult | _Read]) -> list[FileResult]:
        """Decide every file of the group and write the outcomes (not in a dry run);
        when the capture refuses a file, each file alone."""
        held = self._held(items)
        decided = [
            item if isinstance(item, FileResult) else self._decide(item, held) for item in items
        ]
        if self.dry_run:
            return [item for item in decided if isinstance(item, FileResult)]
        try:
            return self._write(decided)
        except DomainError:
            return [self._one_alone(item) for item in items]

    def _one_alone(self, item: FileResult | _Read) -> FileResult:
        decided = item if isinstance(item, FileResult) else self._decide(item, self._held([item]))
        try:
            return self._write([decided])[0]
        except DomainError as exc:
            assert isinstance(decided, _Capture)  # only a capture can be refused
            return self._write([decided.refused(exc.detail)])[0]

    def _write(self, decided: list[FileResult | _Capture]) -> list[FileResult]:
        assert self.batch is not None
        items = [item.to_write() for item in decided if not _earlier(item)]
        write_group(self.ctx, self.batch, self.actor, items)
        return [item if isinstance(item, FileResult) else item.result() for item in decided]


def _earlier(item: FileResult | _Capture) -> bool:
    return isinstance(item, FileResult) and item.earlier
