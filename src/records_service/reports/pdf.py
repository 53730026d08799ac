"""The Panel's report as PDF: the parts of the HTML, in the same order and words, laid
out for print from the same report data (``lines.PanelReport``).

A4 pages with a table of contents giving each part's page (and PDF bookmarks), "Page
N of M" on every page, the report's title at the head of every page after the first,
each part on a new page, the money on landscape pages, and tables whose header row
is repeated on every page they run onto, with rows never split across pages. The
layout itself (fonts, text cells, late page numbers) is ``pdf_layout``'s.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.platypus import Flowable, NextPageTemplate, PageBreak, Spacer

from records_service.finance.reconcile import pounds
from records_service.reports.lines import FINDING_TITLES, CaseFileLine, PanelReport
from records_service.reports.pdf_layout import (
    BODY,
    BOLD,
    GAP,
    HEAD_FILL,
    KNOWN,
    LEADING,
    MARGINS,
    MONO,
    NAVY,
    PAD_X,
    PAD_Y,
    RULE,
    SMALL,
    Cell,
    Contents,
    Heading,
    Late,
    ReportDocument,
    RowTable,
    Style,
    StyleCommand,
    TitleBand,
    font,
)
from records_service.reports.render import SECTIONS, b64, by_rule, day, moment

PORTRAIT_WIDTH = A4[0] - 2 * MARGINS[1]
LANDSCAPE_WIDTH = landscape(A4)[0] - 2 * MARGINS[1]
NONE = Style(color=BODY.color)
H3 = Style("Report-Bold", 11)
Row = list[Any]


def render_pdf(report: PanelReport) -> bytes:
    """The report laid out for print, as PDF bytes."""
    title = f"Panel's report, {report.period.start} to {report.period.end}"
    late = Late(title, SECTIONS)
    buffer = io.BytesIO()
    document = ReportDocument(
        buffer,
        late,
        title=title,
        author=report.produced_by,
        subject="Report to the Police and Crime Panel",
        creator="records-service",
    )
    document.save_as_pdf(_story(report, late))
    return buffer.getvalue()


def _story(report: PanelReport, late: Late) -> list[Flowable]:
    story: list[Flowable] = [*_front(report, late), *_summary(report, late)]
    parts: Sequence[tuple[str, Callable[[PanelReport], list[Flowable]]]] = (
        ("awards", _awards),
        ("completeness", _completeness),
        ("money", _money),
        ("findings", _findings),
        ("disposals", _disposals),
        ("checkpoint", _checkpoint),
    )
    titles = dict(SECTIONS)
    numbers = {key: n for n, (key, _) in enumerate(SECTIONS, start=1)}
    for key, part in parts:
        # The money's columns need the width of a landscape page.
        story.append(NextPageTemplate("landscape" if key == "money" else "portrait"))
        story.append(PageBreak())
        story.append(Heading(key, f"{numbers[key]}. {titles[key]}", late))
        story.extend(part(report))
    return story


def _front(report: PanelReport, late: Late) -> list[Flowable]:
    period = f"{report.period.start} to {report.period.end}"
    band = TitleBand(
        "Report to the Police and Crime Panel",
        "What was funded, and was it spent as agreed",
        [
            f"Period {period}. Money and completeness as at {report.as_at}.",
            f"Produced {moment(report.produced_at)} by {report.produced_by}, "
            f"under retention schedule {report.schedule_version}.",
        ],
    )
    contents = Cell(("Contents", Style("Report-Bold", 14, NAVY)))
    return [band, Spacer(1, 14), contents, Contents(late), Spacer(1, 10)]


def _text(text: str, style: Style = BODY) -> list[Flowable]:
    return [Cell((text, style)), Spacer(1, 6)]


def _none(text: str) -> list[Flowable]:
    return _text(text, NONE)


def _table(
    header: Sequence[str] | None,
    rows: list[Row],
    widths: Sequence[float],
    *,
    numbers: Sequence[int] = (),
    total: bool = False,
    page_width: float = PORTRAIT_WIDTH,
    extra: Sequence[StyleCommand] = (),
) -> RowTable:
    """A table that prints well: fixed column widths, a shaded header row repeated on
    each page, rules between rows, figures right-aligned, rows kept whole; ``total``
    sets the last row apart as a total."""
    regular, bold = (font("Report"), 9, LEADING), (font("Report-Bold"), 9, LEADING)
    style: list[StyleCommand] = [
        ("FONT", (0, 0), (-1, -1), *regular),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), PAD_X),
        ("RIGHTPADDING", (0, 0), (-1, -1), PAD_X),
        ("TOPPADDING", (0, 0), (-1, -1), PAD_Y),
        ("BOTTOMPADDING", (0, 0), (-1, -1), PAD_Y),
        *[("ALIGN", (n, 0), (n, -1), "RIGHT") for n in numbers],
        *extra,
    ]
    if header:
        style += [("FONT", (0, 0), (-1, 0), *bold), ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL)]
    last: list[StyleCommand] = []
    if total:
        last = [("FONT", (0, -1), (-1, -1), *bold), ("LINEABOVE", (0, -1), (-1, -1), 1, NAVY)]
    return RowTable(header, rows, [page_width * w for w in widths], style, last)


def _summary(report: PanelReport, late: Late) -> list[Flowable]:
    complete, unexplained, known = report.gap_counts
    money = (
        ("Paid to date", "paid_pence"),
        ("Reported spent to date", "reported_spent_pence"),
        ("Recovered", "recovered_pence"),
        ("Unspent (paid less spent and recovered)", "unspent_pence"),
    )
    rows: list[Row] = [
        ["Contracts and grants awarded", str(len(report.awards)), pounds(report.awarded_pence)],
        [
            "Case files in the period",
            str(len(report.case_files)),
            pounds(report.total("value_pence")),
        ],
        *[[label, "", pounds(report.total(name))] for label, name in money],
        ["Complete case files", str(complete), ""],
        ["Missing records, unexplained", str(unexplained), ""],
        ["Missing records, known gaps", str(known), ""],
        ["Open findings", str(report.findings_open), ""],
        ["Disposals carried out", str(len(report.disposals)), ""],
    ]
    labels = ("FONT", (0, 0), (0, -1), font("Report-Bold"), 9, LEADING)
    table = _table(None, rows, (0.6, 0.15, 0.25), numbers=(1, 2), extra=[labels])
    return [Heading("summary", "1. Summary", late), table]


def _awards(report: PanelReport) -> list[Flowable]:
    intro = _text(
        "Every award dated in the period. The value includes the variations decided by "
        f"{report.period.end}."
    )
    if not report.awards:
        return [*intro, *_none("No contract or grant was awarded in the period.")]
    rows: list[Row] = []
    for a in report.awards:
        decision = (
            Cell((a.decision_title or "", BODY), (f"record {a.decision_id}", SMALL))
            if a.decision_id
            else Cell(("no decision record", Style(color=GAP)))
        )
        rows.append(
            [
                str(a.awarded_on),
                Cell((a.reference, BODY), (f"{a.title} ({a.kind.replace('_', ' ')})", SMALL)),
                Cell((a.provider or "", BODY)),
                Cell((a.funding_stream or "", BODY)),
                pounds(a.value_pence),
                decision,
            ]
        )
    rows.append([f"Total, {len(report.awards)} awards", "", "", "", pounds(report.awarded_pence)])
    header = ("Awarded", "Contract", "Provider", "Funding stream", "Value", "Decision")
    widths = (0.12, 0.24, 0.17, 0.15, 0.13, 0.19)
    table = _table(header, rows, widths, numbers=(4,), total=True)
    table.last.append(("SPAN", (0, -1), (3, -1)))
    return [*intro, table]


def _gaps(line: CaseFileLine) -> tuple[Cell, Cell]:
    if line.problem:
        unexplained = Cell((f"Cannot be checked: {line.problem}", Style(color=GAP)))
    elif line.unexplained:
        unexplained = Cell((by_rule(line.unexplained), Style(color=GAP)))
    else:
        unexplained = Cell(("none", BODY))
    known = Cell((by_rule(line.known), Style(color=KNOWN)) if line.known else ("none", BODY))
    return unexplained, known


def _completeness(report: PanelReport) -> list[Flowable]:
    intro = _text(
        f"Each file against the schedule's completeness rules as at {report.as_at}. A known "
        "gap is a missing record whose loss is on record, with what happened; an "
        "unexplained one is not."
    )
    if not report.case_files:
        return [*intro, *_none("No case file falls in the period.")]
    rows: list[Row] = [
        [Cell((c.reference, BODY), (c.status, SMALL)), str(c.records), *_gaps(c)]
        for c in report.case_files
    ]
    header = ("Case file", "Records", "Missing, unexplained", "Known gaps")
    return [*intro, _table(header, rows, (0.17, 0.09, 0.5, 0.24), numbers=(1,))]


MONEY_FIELDS = (
    "value_pence",
    "paid_pence",
    "reported_spent_pence",
    "recovered_pence",
    "unspent_pence",
)


def _outcomes(figures: dict[str, int]) -> str:
    return "; ".join(f"{name}: {figure}" for name, figure in sorted(figures.items()))


def _money(report: PanelReport) -> list[Flowable]:
    intro = _text(
        f"Value is the award with its variations; paid, reported spent and recovered are to "
        f"{report.as_at}. Outcomes are the figures reported for periods ending in the "
        "report's period."
    )
    if not report.case_files:
        return [*intro, *_none("No case file falls in the period.")]
    rows: list[Row] = [
        [
            Cell((c.reference, BODY), (c.provider or "", SMALL)),
            *[pounds(int(getattr(c, name))) for name in MONEY_FIELDS],
            Cell((_outcomes(c.outcomes) or "none", BODY)),
        ]
        for c in report.case_files
    ]
    totals = [pounds(report.total(name)) for name in MONEY_FIELDS]
    rows.append(["Total", *totals, Cell((_outcomes(report.outcome_totals()), BOLD))])
    header = ("Case file", "Value", "Paid", "Reported spent", "Recovered", "Unspent", "Outcomes")
    widths = (0.16, 0.12, 0.12, 0.12, 0.12, 0.12, 0.24)
    table = _table(
        header, rows, widths, numbers=(1, 2, 3, 4, 5), total=True, page_width=LANDSCAPE_WIDTH
    )
    in_period = (
        f"In the period: paid {pounds(report.total('paid_in_period_pence'))}; spend "
        f"reported {pounds(report.total('spent_in_period_pence'))}."
    )
    return [*intro, table, Spacer(1, 6), *_text(in_period)]


def _findings(report: PanelReport) -> list[Flowable]:
    intro = _text(
        "Every finding of the retention job open at the time of the report "
        f"({moment(report.produced_at)})."
    )
    if not report.findings:
        return [*intro, *_none("No finding is open.")]
    counts: list[Row] = [
        [Cell((FINDING_TITLES.get(kind, kind), BODY), (f"({kind})", SMALL)), str(len(lines))]
        for kind, lines in report.findings.items()
    ]
    counts.append(["Total", str(report.findings_open)])
    story = [*intro, _table(("Kind", "Open"), counts, (0.85, 0.15), numbers=(1,), total=True)]
    for kind, lines in report.findings.items():
        heading = Cell((f"{FINDING_TITLES.get(kind, kind)} ({len(lines)})", H3))
        heading.keepWithNext = True
        rows: list[Row] = [[Cell((f.summary, BODY)), day(f.first_seen)] for f in lines]
        story += [Spacer(1, 8), heading, Spacer(1, 4)]
        story.append(_table(("Finding", "Open since"), rows, (0.84, 0.16)))
    return story


def _disposals(report: PanelReport) -> list[Flowable]:
    intro = _text(
        "Records destroyed or transferred in the period under the retention schedule, "
        "each approved by a second person."
    )
    if not report.disposals:
        return [*intro, *_none("No record was disposed of in the period.")]
    rows: list[Row] = [
        [
            day(d.executed_at),
            Cell((d.title, BODY), (f"{d.record_type}, record {d.record_id}", SMALL)),
            Cell((d.contract_ref or "", BODY)),
            Cell((d.action, BODY), (d.rule, SMALL)),
            Cell((d.approved_by, BODY)),
        ]
        for d in report.disposals
    ]
    header = ("Carried out", "Record", "Case file", "Action", "Approved by")
    return [*intro, _table(header, rows, (0.13, 0.37, 0.17, 0.18, 0.15))]


def _checkpoint(report: PanelReport) -> list[Flowable]:
    cp = report.checkpoint
    if cp is None:
        return _text(
            "No checkpoint of the audit log had been signed when this report was made.",
            Style(color=GAP),
        )
    intro = _text(
        "The latest checkpoint signed when this report was made. Every action on the "
        "records is in the audit log; a later checkpoint's consistency proof from this "
        "tree size shows that none of these entries has changed since."
    )
    facts = (
        ("Log", cp.origin),
        ("Tree size", str(cp.tree_size)),
        ("Root hash (hex)", cp.root_hash.hex()),
        ("Root hash (base64)", b64(cp.root_hash)),
        ("Signed", moment(cp.signed_at)),
        ("Key", f"{cp.key_name} (key id {cp.key_id})"),
        ("Verified against", cp.verified_by or "no trusted key given"),
    )
    rows: list[Row] = [[Cell((label, BOLD)), Cell((value, MONO))] for label, value in facts]
    return [*intro, _table(None, rows, (0.28, 0.72))]
