"""The Panel's report's PDF layout on data made in the test (no database: the data
tests cover gathering it): every page numbered, the contents' page numbers right, the
header row repeated on every page a table runs onto, a row too tall for one page
continued rather than lost or failing, and text that looks like markup or is not
Latin printed exactly as it is."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from functools import cache

from pypdf import PdfReader

from records_service.reports.lines import (
    AwardLine,
    CaseFileLine,
    FindingLine,
    PanelReport,
    Period,
)
from records_service.reports.pdf import render_pdf

MADE = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
PROVIDER = "Zażółć gęślą jaźń — Ελληνική Φροντίδα"
MARKUP = "<img src='/etc/passwd'/> & <b>Co</b>"
COMPLETENESS_HEADER = "Case file Records Missing, unexplained Known gaps"


def _quarters(count: int) -> list[str]:
    start = date(1950, 1, 1)
    return [
        f"A monitoring return for every quarter: {start + timedelta(days=91 * n)} to "
        f"{start + timedelta(days=91 * n + 90)}"
        for n in range(count)
    ]


def _report() -> PanelReport:
    files = [CaseFileLine(f"SVC-{n:03d}", f"Service {n}", "Provider", "active") for n in range(90)]
    files[40] = CaseFileLine("OLD-040", MARKUP, PROVIDER, "active", unexplained=_quarters(300))
    award = AwardLine(
        "OLD-040", MARKUP, PROVIDER, "Fund", "grant", date(1950, 1, 1), 100, 100, None, None
    )
    finding = FindingLine("overpaid", "OLD-040", f"OLD-040: {MARKUP} overpaid by £1.00", MADE)
    return PanelReport(
        period=Period(date(1950, 1, 1), date(2026, 6, 30)),
        as_at=date(2026, 6, 15),
        produced_at=MADE,
        produced_by="rob",
        schedule_version="test",
        awards=[award],
        case_files=files,
        findings={"overpaid": [finding]},
        disposals=[],
        checkpoint=None,
    )


@cache  # rendered once for the module's tests
def _pages() -> list[str]:
    reader = PdfReader(io.BytesIO(render_pdf(_report())))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def _starts(pages: list[str]) -> dict[str, int]:
    """The page each part starts on, as the contents say."""
    found = {}
    for title in ("Completeness of each case file", "Monitoring outcomes", "Open findings"):
        match = re.search(rf"{title}[^.]*[ .]*(\d+)", pages[0])
        assert match, title
        found[title] = int(match.group(1))
    return found


def test_a_long_report_prints_whole_with_headers_and_page_numbers() -> None:
    pages = _pages()
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
    starts = _starts(pages)
    first, after = starts["Completeness of each case file"], starts["Monitoring outcomes"]
    assert "3. Completeness of each case file" in pages[first - 1]
    assert "4. Monitoring outcomes" in pages[after - 1]
    assert after - first >= 3  # the table runs onto several pages ...
    for page in pages[first - 1 : after - 1]:
        assert COMPLETENESS_HEADER in page  # ... with its header on each
    part = " ".join(pages[first - 1 : after - 1])
    # The row taller than a page is continued, all of it there (each quarter's days;
    # extraction may read the next column's words between the lines of a cell).
    for quarter in _quarters(300):
        start, end = quarter.split(": ")[1].split(" to ")
        assert f"{start} to" in part and end in part
    assert "SVC-089" in part


def test_text_is_printed_as_it_is() -> None:
    whole = " ".join(_pages())
    assert whole.count(PROVIDER) >= 2  # awards, money
    assert MARKUP in whole
    assert f"OLD-040: {MARKUP} overpaid by £1.00" in whole
