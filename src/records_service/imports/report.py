"""The report of a batch: every file's outcome and reason, with its mapped metadata,
as CSV (for a spreadsheet) and JSON (for a program). The command line writes both
files; the web pages offer both for download. Both come from the same rows, and both
are written a row at a time (:func:`write_csv`, :func:`write_json`), so a batch of any
size is reported in the same memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from records_service.imports.models import ImportFile

COLUMNS = (
    "path",
    "outcome",
    "reason",
    "size",
    "modified_at",
    "sha256",
    "rule_line",
    "record_id",
    "version",
    "contract",
    "record_type",
    "record_date",
    "title",
    "tags",
    "classification",
    "originator",
)


@dataclass(frozen=True)
class ReportRow:
    """One file's line of the report."""

    path: str
    outcome: str
    reason: str
    size: int
    modified_at: str
    sha256: str | None
    rule_line: int | None
    record_id: str | None
    version: int | None
    mapped: dict[str, Any]


def from_row(row: ImportFile) -> ReportRow:
    """The report line of a stored outcome."""
    return ReportRow(
        path=row.path,
        outcome=row.outcome,
        reason=row.reason,
        size=row.size,
        modified_at=row.modified_at.isoformat(),
        sha256=row.sha256,
        rule_line=row.rule,
        record_id=row.record_id,
        version=row.version,
        mapped=json.loads(row.mapped) if row.mapped else {},
    )


def _csv_safe(text: str) -> str:
    # A spreadsheet runs a cell starting with these as a formula (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _cells(row: ReportRow) -> list[str]:
    mapped = row.mapped
    values: list[object] = [
        row.path,
        row.outcome,
        row.reason,
        row.size,
        row.modified_at,
        row.sha256,
        row.rule_line,
        row.record_id,
        row.version,
        *(mapped.get(key) for key in COLUMNS[9:]),
    ]
    text = [",".join(v) if isinstance(v, list) else ("" if v is None else str(v)) for v in values]
    return [_csv_safe(cell) for cell in text]


def write_csv(out: TextIO, rows: Iterable[ReportRow]) -> None:
    """Write the report to ``out`` as CSV with a header line."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_cells(row))


def write_json(out: TextIO, header: dict[str, Any], rows: Iterable[ReportRow]) -> None:
    """Write the report to ``out`` as a JSON document: ``header`` (batch, counts) and
    ``files``, laid out as ``json.dumps(..., indent=2)`` lays it out, a row at a time."""
    opening = json.dumps({**header, "files": []}, indent=2, ensure_ascii=False)
    out.write(opening.removesuffix("[]\n}") + "[")
    first = True
    for row in rows:
        item = json.dumps(asdict(row), indent=2, ensure_ascii=False)
        out.write(("\n" if first else ",\n") + "\n".join("    " + ln for ln in item.split("\n")))
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


def report_csv(rows: Iterable[ReportRow]) -> str:
    """The report as CSV text with a header line."""
    out = io.StringIO()
    write_csv(out, rows)
    return out.getvalue()


def report_json(header: dict[str, Any], rows: Iterable[ReportRow]) -> str:
    """The report as a JSON document: ``header`` (batch, counts) and ``files``."""
    out = io.StringIO()
    write_json(out, header, rows)
    return out.getvalue()
