"""The import report is written a row at a time, laid out as before, so a batch of any
size is reported in the same memory."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import asdict

from records_service.imports.report import ReportRow, report_json, write_csv, write_json

HEADER = {"batch": "Shared drive", "counts": {"captured": 2}, "dry_run": False}


def _row(number: int) -> ReportRow:
    return ReportRow(
        path=f"Commissioning/2016-17/Q{number} return.pdf",
        outcome="captured",
        reason="",
        size=1000 + number,
        modified_at="2016-10-01T09:00:00",
        sha256="ab" * 32,
        rule_line=3,
        record_id=f"r{number}",
        version=1,
        mapped={"title": f"Q{number} return", "tags": ["Helpline", "fy-2016"]},
    )


def _watched(out: io.StringIO, count: int) -> Iterator[ReportRow]:
    """The rows, each given only once the one before is in ``out``."""
    for number in range(count):
        if number:
            assert f"Q{number - 1} return.pdf" in out.getvalue(), "rows were held, not written"
        yield _row(number)


def test_each_row_is_written_before_the_next_is_read() -> None:
    csv_out, json_out = io.StringIO(), io.StringIO()
    write_csv(csv_out, _watched(csv_out, 5))
    write_json(json_out, HEADER, _watched(json_out, 5))
    assert len(csv_out.getvalue().splitlines()) == 6
    assert len(json.loads(json_out.getvalue())["files"]) == 5


def test_the_json_is_laid_out_as_one_document_would_be() -> None:
    for rows in ([_row(1), _row(2)], [_row(1)], []):
        whole = {**HEADER, "files": [asdict(row) for row in rows]}
        assert report_json(HEADER, rows) == json.dumps(whole, indent=2) + "\n"
