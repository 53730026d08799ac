"""The Panel's report's print layout, built on ReportLab's platypus: fonts, pages, text
cells, headings, the contents and page numbers.

The report is long (a thousand pages for ten years of a large body's contracts), so
the layout is made for speed as well as print:

- table cells are :class:`Cell` flowables holding plain text runs, wrapped with the
  font's metrics and drawn as strings; nothing is parsed as markup, so no value can
  be read as a tag (ReportLab's ``Paragraph`` would read ``<img src=...>``), and a
  cell costs a few string-width look-ups;
- the document is laid out **once**: each page's "Page N of M" and the contents'
  page numbers are drawn when the document is saved (:class:`LateCanvas` keeps each
  page's drawing until then), instead of laying the whole report out again to learn
  them as ``multiBuild`` would.

Fonts are DejaVu Sans (Debian's ``fonts-dejavu-core``), embedded as subsets, so any
character of a provider's name prints; without it the PDF falls back on the PDF
standard fonts, which print Western European text only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, LongTable, PageTemplate, TableStyle

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT_FILES = {
    "Report": "DejaVuSans.ttf",
    "Report-Bold": "DejaVuSans-Bold.ttf",
    "Report-Mono": "DejaVuSansMono.ttf",
}
FALLBACK = {"Report": "Helvetica", "Report-Bold": "Helvetica-Bold", "Report-Mono": "Courier"}
INK = colors.HexColor("#111111")
NAVY = colors.HexColor("#14213d")
GREY = colors.HexColor("#333333")
RULE = colors.HexColor("#9aa3b5")
HEAD_FILL = colors.HexColor("#e8ebf2")
GAP = colors.HexColor("#8a1c1c")
KNOWN = colors.HexColor("#5a4a00")
MARGINS = (16 * mm, 14 * mm, 18 * mm)  # top, sides, bottom
CONTENTS_LINE = 16.0  # points between the contents' lines
BAND_PADDING = 22.0  # points inside the title band, either side


def font(name: str) -> str:
    """The registered name of one of the report's fonts (``Report``, ``-Bold``, ``-Mono``)."""
    return _fonts()[name]


_REGISTERED: dict[str, str] = {}


def _fonts() -> dict[str, str]:
    """Register DejaVu once per process (or settle for the standard fonts)."""
    if not _REGISTERED:
        for name, filename in FONT_FILES.items():
            found = next((d / filename for d in FONT_DIRS if (d / filename).is_file()), None)
            if found is None:
                _REGISTERED.update(FALLBACK)
                break
            pdfmetrics.registerFont(TTFont(name, str(found)))
            _REGISTERED[name] = name
    return _REGISTERED


@dataclass(frozen=True)
class Style:
    """How a run of text is set: font, size in points, colour and line height."""

    font: str = "Report"
    size: float = 9
    color: colors.Color = INK

    @property
    def leading(self) -> float:
        return self.size * 1.3


BODY = Style()
BOLD = Style("Report-Bold")
SMALL = Style(size=7.5, color=GREY)
MONO = Style("Report-Mono", size=8.5)
HEADLINE = Style("Report-Bold", size=17)


def wrap_text(text: str, style: Style, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (at spaces; a word wider than
    the line, such as a record id, is broken between characters)."""
    name = font(style.font)
    measure = pdfmetrics.stringWidth
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if measure(candidate, name, style.size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = _break_word(word, name, style.size, width, lines)
        lines.append(line)
    return lines


def _break_word(word: str, name: str, size: float, width: float, lines: list[str]) -> str:
    """Put the full-width pieces of a too-long word in ``lines``; return what is left."""
    piece = ""
    for char in word:
        if piece and pdfmetrics.stringWidth(piece + char, name, size) > width:
            lines.append(piece)
            piece = char
        else:
            piece += char
    return piece


class Cell(Flowable):
    """Runs of plain text, each in its own style, wrapped to the cell's width."""

    def __init__(self, *runs: tuple[str, Style]) -> None:
        super().__init__()
        self.runs = [(text, style) for text, style in runs if text]
        self._lines: list[tuple[str, Style]] = []

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        if self._lines and avail_width == self.width:
            return self.width, self.height  # measured once for the row, again to draw
        self._lines = [
            (line, style)
            for text, style in self.runs
            for line in wrap_text(text, style, avail_width)
        ]
        self.width = avail_width
        self.height = sum(style.leading for _, style in self._lines)
        return self.width, self.height

    def pieces(self, width: float, tallest: float) -> list[Cell]:
        """The cell's lines at ``width`` in cells no taller than ``tallest``."""
        self.wrap(width, tallest)
        pieces: list[Cell] = []
        for line, style in self._lines:
            if not pieces or pieces[-1].height + style.leading > tallest:
                pieces.append(Cell())
                pieces[-1].width = width
            pieces[-1]._lines.append((line, style))
            pieces[-1].height += style.leading
        return pieces

    def draw(self) -> None:
        canvas, y = self.canv, self.height
        for line, style in self._lines:
            y -= style.leading
            canvas.setFont(font(style.font), style.size)
            canvas.setFillColor(style.color)
            canvas.drawString(0, y + (style.leading - style.size) / 2 + style.size * 0.22, line)


PAD_X, PAD_Y = 4.0, 3.0  # a table cell's padding, points
LEADING = BODY.leading  # a plain-text cell's line height
# A row taller than this (a file with decades of missing returns) is continued in
# further rows, so that every row fits on a page, even a landscape one.
TALLEST_ROW = 360.0
StyleCommand = tuple[Any, ...]


class RowTable(Flowable):
    """A table laid out a page at a time: the rows that fit on the page become one
    platypus table, with the header row repeated, and the rest wait for the next page.

    Splitting one big platypus table re-measures every remaining row at each page,
    which costs rows x pages; here each row is measured once. Rows are never split.
    ``last`` is styling for the final row (a total), applied on the page it lands on.
    """

    def __init__(
        self,
        header: Sequence[str] | None,
        rows: Sequence[list[Any]],
        widths: Sequence[float],
        style: Sequence[StyleCommand],
        last: Sequence[StyleCommand] = (),
        heights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.header, self.rows, self.widths = header, list(rows), list(widths)
        self.style, self.last = list(style), list(last)
        if heights is None:
            self.rows = [part for row in self.rows for part in self._continued(row)]
            heights = [self._height(row) for row in self.rows]
        self.heights = list(heights)
        self.header_height = LEADING + 2 * PAD_Y if header else 0.0

    def _height(self, row: Sequence[Any]) -> float:
        tallest = LEADING
        for cell, width in zip(row, self.widths, strict=False):
            if isinstance(cell, Cell):
                tallest = max(tallest, cell.wrap(width - 2 * PAD_X, TALLEST_ROW)[1])
        return tallest + 2 * PAD_Y

    def _continued(self, row: list[Any]) -> list[list[Any]]:
        """``row``, or if it is too tall for a page, it and the rows that continue it."""
        if self._height(row) <= TALLEST_ROW + 2 * PAD_Y:
            return [row]
        columns = [
            cell.pieces(width - 2 * PAD_X, TALLEST_ROW) if isinstance(cell, Cell) else [cell]
            for cell, width in zip(row, self.widths, strict=False)
        ]
        count = max(len(pieces) for pieces in columns)
        return [[p[n] if n < len(p) else "" for p in columns] for n in range(count)]

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = sum(self.widths)
        self.height = self.header_height + sum(self.heights)
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        room, fit = avail_height - self.header_height, 0
        while fit < len(self.rows) and self.heights[fit] <= room:
            room -= self.heights[fit]
            fit += 1
        if fit == 0:
            return []
        if fit == len(self.rows):
            return [self._table(self.rows, self.heights, final=True)]
        rest = RowTable(
            self.header, self.rows[fit:], self.widths, self.style, self.last, self.heights[fit:]
        )
        return [self._table(self.rows[:fit], self.heights[:fit], final=False), rest]

    def _table(
        self, rows: Sequence[list[Any]], heights: Sequence[float], *, final: bool
    ) -> LongTable:
        data: list[list[Any]] = [list(self.header), *rows] if self.header else list(rows)
        row_heights = [self.header_height, *heights] if self.header else list(heights)
        table = LongTable(
            data, colWidths=self.widths, rowHeights=row_heights, repeatRows=1 if self.header else 0
        )
        table.setStyle(TableStyle([*self.style, *(self.last if final else ())]))
        return table

    def draw(self) -> None:
        table = self._table(self.rows, self.heights, final=True)
        table.wrapOn(self.canv, self.width, self.height)
        table.drawOn(self.canv, 0, 0)


@dataclass
class Late:
    """What is drawn once the whole document is laid out: "Page N of M" on each page,
    and the contents, which give the page each part starts on."""

    title: str
    sections: Sequence[tuple[str, str]]
    starts: dict[str, int] = field(default_factory=dict)
    contents_at: tuple[int, float, float, float] | None = None  # page, x, top, width

    def draw(self, canvas: Canvas, total: int) -> None:
        """The page's number, and the contents if they are on this page."""
        number = canvas.getPageNumber()
        canvas.setFont(font("Report"), 8)
        canvas.setFillColor(GREY)
        canvas.drawCentredString(page_width(canvas) / 2, 9 * mm, f"Page {number} of {total}")
        if self.contents_at is not None and self.contents_at[0] == number:
            self._contents(canvas, *self.contents_at[1:])

    def _contents(self, canvas: Canvas, x: float, top: float, width: float) -> None:
        """Each part's title, a dotted leader and its page, as one line of text (so the
        line reads as one when the PDF's text is extracted), linked to the part."""
        name, dot = font("Report"), pdfmetrics.stringWidth(" .", font("Report"), 9)
        canvas.setFont(name, 9)
        canvas.setFillColor(NAVY)
        for n, (key, title) in enumerate(self.sections):
            y = top - CONTENTS_LINE * (n + 1) + 4
            label, page = f"{n + 1}. {title} ", f" {self.starts.get(key, '?')}"
            room = width - 12 - pdfmetrics.stringWidth(label + page, name, 9)
            leader = " ." * max(0, int(room / dot))
            canvas.drawString(x + 12, y, label + leader + page)
            canvas.linkRect("", key, (x, y - 3, x + width, y + 10), thickness=0)


def page_width(canvas: Canvas) -> float:
    """The width of the canvas's current page (portrait or landscape)."""
    untyped: Any = canvas  # the stubs do not know the page size it keeps
    return float(untyped._pagesize[0])


class LateCanvas(Canvas):
    """A canvas that keeps every page until the document is saved, then adds what
    ``Late`` draws to each (the total of pages is known only then)."""

    def __init__(self, *args: Any, late: Late, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._late = late
        self._kept: list[dict[str, Any]] = []

    def showPage(self) -> None:  # ReportLab's name
        self._kept.append(dict(self.__dict__))
        untyped: Any = self  # the stubs do not know the canvas's own page set-up
        untyped._startPage()

    def save(self) -> None:
        total = len(self._kept)
        for state in self._kept:
            self.__dict__.update(state)
            self._late.draw(self, total)
            super().showPage()
        super().save()


class Heading(Flowable):
    """A part's title: a rule under it, a bookmark in the PDF's outline, and its page
    noted for the contents."""

    def __init__(self, key: str, text: str, late: Late) -> None:
        super().__init__()
        self.key, self.text, self.late = key, text, late
        self.keepWithNext = True

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        return avail_width, 30

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFont(font("Report-Bold"), 14)
        canvas.setFillColor(NAVY)
        canvas.drawString(0, 12, self.text)
        canvas.setStrokeColor(NAVY)
        canvas.setLineWidth(1.5)
        canvas.line(0, 7, self.width, 7)
        canvas.bookmarkPage(self.key)
        canvas.addOutlineEntry(self.text, self.key, level=0)
        self.late.starts[self.key] = canvas.getPageNumber()


class Contents(Flowable):
    """Room for the contents, which ``Late`` draws once each part's page is known."""

    def __init__(self, late: Late) -> None:
        super().__init__()
        self.late = late

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        self.height = CONTENTS_LINE * len(self.late.sections)
        return self.width, self.height

    def draw(self) -> None:
        x, top = self.canv.absolutePosition(0, self.height)
        self.late.contents_at = (self.canv.getPageNumber(), x, top, self.width)


class TitleBand(Flowable):
    """The report's dark title band, with its lettering in white."""

    def __init__(self, kicker: str, title: str, lines: Sequence[str]) -> None:
        super().__init__()
        self.kicker, self.title, self.lines = kicker, title, list(lines)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        inner = avail_width - 2 * BAND_PADDING
        self._titles = wrap_text(self.title, HEADLINE, inner)
        self._wrapped = [w for line in self.lines for w in wrap_text(line, BODY, inner)]
        self.height = 52 + 24 * len(self._titles) + 12 * len(self._wrapped)
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFillColor(NAVY)
        canvas.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        y = self.height - 26
        canvas.setFont(font("Report"), 8)
        canvas.drawString(BAND_PADDING, y, self.kicker.upper())
        canvas.setFont(font(HEADLINE.font), HEADLINE.size)
        for line in self._titles:
            y -= 24
            canvas.drawString(BAND_PADDING, y, line)
        canvas.setFont(font("Report"), 9)
        for n, line in enumerate(self._wrapped):
            canvas.drawString(BAND_PADDING, y - 20 - 12 * n, line)


class ReportDocument(BaseDocTemplate):
    """A4 pages, portrait and landscape, with the report's running title on every page
    but the first."""

    def __init__(self, target: Any, late: Late, **info: Any) -> None:
        top, side, bottom = MARGINS
        super().__init__(
            target,
            pagesize=A4,
            leftMargin=side,
            rightMargin=side,
            topMargin=top,
            bottomMargin=bottom,
            **info,
        )
        self.late = late
        self.addPageTemplates(
            [self._template("portrait", A4), self._template("landscape", landscape(A4))]
        )

    def _template(self, name: str, size: tuple[float, float]) -> PageTemplate:
        top, side, bottom = MARGINS
        frame = Frame(
            side,
            bottom,
            size[0] - 2 * side,
            size[1] - top - bottom,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        return PageTemplate(id=name, frames=[frame], pagesize=size, onPage=self._running_title)

    def _running_title(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        if canvas.getPageNumber() == 1:
            return
        width, height = self.pageTemplate.pagesize
        canvas.setFont(font("Report"), 7.5)
        canvas.setFillColor(GREY)
        canvas.drawRightString(width - MARGINS[1], height - 10 * mm, self.late.title)

    def save_as_pdf(self, story: list[Flowable]) -> None:
        """Lay the story out once and save it, page numbers drawn late."""
        late = self.late

        def make_canvas(*args: Any, **kwargs: Any) -> LateCanvas:
            return LateCanvas(*args, late=late, **kwargs)

        self.build(story, canvasmaker=make_canvas)
