"""One run of an import: each file of the source matched, hashed, mapped and then
captured, recorded as a duplicate sighting, or reported as left out or failed.

The files are taken in path order. A file's bytes are read once to hash them (kept in
memory up to :data:`MEMORY_LIMIT`, read again from the source when larger, so memory
stays flat whatever the tree holds). A dry run goes through exactly the same steps
and decisions and writes nothing: what it would capture it only remembers, so a later
file with the same bytes shows as the duplicate it would be.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import BinaryIO

from sqlmodel import Session

from records_service.auth.models import User
from records_service.db import read_scope
from records_service.errors import DomainError
from records_service.extraction import sniff_media_type
from records_service.extraction.properties import DocumentProperties, read_properties
from records_service.imports.batches import (
    FileOutcome,
    file_row,
    import_record_id,
    provenance,
    write_outcome,
)
from records_service.imports.mapping import Mapping, Rule
from records_service.imports.models import ImportBatch, Outcome
from records_service.imports.resolve import Unmappable, mapped_json, resolve
from records_service.imports.sources import Source, SourceFile, opened
from records_service.records.capture import CaptureContext, Imported, capture_record, content_key
from records_service.records.content import clean_filename
from records_service.records.models import Record, Version
from records_service.records.schemas import RecordMetadata
from records_service.records.service import held_version
from records_service.storage import read_into

MEMORY_LIMIT = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileResult:
    """What became of one file in this run; ``earlier`` if an earlier run settled it."""

    file: SourceFile
    size: int
    outcome: FileOutcome
    meta: RecordMetadata | None = None
    earlier: bool = False


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

    def files(self, files: list[SourceFile]) -> Iterator[FileResult]:
        """Each file's result, in order."""
        for file in files:
            yield self.process(file)

    def process(self, file: SourceFile) -> FileResult:
        """Import one file (or, in a dry run, decide what importing it would do)."""
        if file.path in self.done:
            return FileResult(file, file.size, FileOutcome(Outcome.CAPTURED), earlier=True)
        if file.refusal is not None:
            return self._settle(file, file.size, FileOutcome(Outcome.FAILED, file.refusal))
        found = self.mapping.match(file.path)
        if found is None:
            outcome = FileOutcome(Outcome.UNMATCHED, "no rule of the mapping matches its path")
            return self._settle(file, file.size, outcome)
        rule, groups = found
        if rule.skip:
            reason = f"rule {rule.number} (line {rule.line}) leaves it out"
            return self._settle(
                file, file.size, FileOutcome(Outcome.SKIPPED, reason, rule=rule.line)
            )
        try:
            content = Content(self.source, file)
        except (OSError, ValueError, EOFError) as exc:
            return self._settle(file, file.size, FileOutcome(Outcome.FAILED, f"unreadable: {exc}"))
        return self._mapped(file, rule, groups, content)

    def _mapped(
        self, file: SourceFile, rule: Rule, groups: dict[str, str | None], content: Content
    ) -> FileResult:
        properties = cache(content.properties)
        meta: RecordMetadata | None = None
        problem = ""
        try:
            meta = resolve(rule, groups, file, properties, self.ctx.clock().date())
        except Unmappable as exc:
            problem = str(exc)
        mapped = mapped_json(meta) if meta else None
        base = FileOutcome(Outcome.FAILED, "", content.sha256, rule.line, mapped)
        held = self._held(content.sha256)
        if held is not None:
            record_id, version, reason = held
            outcome = FileOutcome(
                Outcome.DUPLICATE, reason, content.sha256, rule.line, mapped, record_id, version
            )
            return self._settle(file, content.size, outcome, meta)
        refusal = problem or _refusal(file, content)
        if refusal:
            failed = FileOutcome(Outcome.FAILED, refusal, content.sha256, rule.line, mapped)
            return self._settle(file, content.size, failed, meta)
        assert meta is not None
        return self._capture(file, content, meta, base)

    def _held(self, sha256: str) -> tuple[str | None, int | None, str] | None:
        with read_scope(self.ctx.engine) as session:
            held = held_version(session, sha256)
        if held is not None:
            return held[0], held[1], f"its bytes are held by record {held[0]} (version {held[1]})"
        if sha256 in self.would_hold:
            return None, None, f"the same bytes as {self.would_hold[sha256]}, captured before it"
        return None

    def _settle(
        self, file: SourceFile, size: int, outcome: FileOutcome, meta: RecordMetadata | None = None
    ) -> FileResult:
        if not self.dry_run:
            assert self.batch is not None
            write_outcome(
                self.ctx.engine,
                self.batch,
                file,
                size,
                outcome,
                actor=self.actor,
                clock=self.ctx.clock,
            )
        return FileResult(file, size, outcome, meta)

    def _capture(
        self, file: SourceFile, content: Content, meta: RecordMetadata, base: FileOutcome
    ) -> FileResult:
        if self.dry_run:
            self.would_hold[content.sha256] = file.path
            outcome = FileOutcome(Outcome.CAPTURED, "", base.sha256, base.rule, base.mapped)
            return FileResult(file, content.size, outcome, meta)
        assert self.batch is not None
        record_id = import_record_id(self.batch, file.path)
        if self.batch.runs > 1:
            self._clear_leftover(record_id)
        try:
            with content.stream() as stream:
                record, version = capture_record(
                    self.ctx,
                    meta=meta,
                    source=stream,
                    filename=file.name,
                    actor=self.actor,
                    imported=self._imported(record_id, file, content, base),
                )
        except DomainError as exc:
            failed = FileOutcome(Outcome.FAILED, exc.detail, base.sha256, base.rule, base.mapped)
            return self._settle(file, content.size, failed, meta)
        outcome = FileOutcome(
            Outcome.CAPTURED, "", base.sha256, base.rule, base.mapped, record.id, version.number
        )
        return FileResult(file, content.size, outcome, meta)

    def _imported(
        self, record_id: str, file: SourceFile, content: Content, base: FileOutcome
    ) -> Imported:
        batch, actor, now = self.batch, self.actor, self.ctx.clock()
        assert batch is not None

        def also(session: Session, record: Record, version: Version) -> None:
            outcome = FileOutcome(
                Outcome.CAPTURED, "", base.sha256, base.rule, base.mapped, record.id, version.number
            )
            file_row(session, batch, file, content.size, outcome, actor=actor, at=now)

        return Imported(
            record_id=record_id,
            provenance=provenance(batch, file, content.size, actor, now),
            also=also,
        )

    def _clear_leftover(self, record_id: str) -> None:
        """Remove what a run killed mid-capture left under the record's key: the
        record itself was never committed (its outcome would have been)."""
        key = content_key(record_id, 1)
        with read_scope(self.ctx.engine) as session:
            if session.get(Record, record_id) is not None:
                return
        if self.ctx.store.exists(key):
            self.ctx.store.delete(key)
