"""The Panel's report as a document: HTML from one Jinja template, PDF from that HTML.

The HTML is self-contained (its style inline, nothing fetched), so the same bytes
read alike in a browser today and from the archive later. The PDF is the same
document laid out for print by WeasyPrint: a table of contents with page numbers,
"Page N of M" on every page, table headers repeated on each page and rows never
split. WeasyPrint is given a URL fetcher that refuses everything: the report is
built from the service's data only, and no value in it can make it read a file or
the network.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from typing import Any, NoReturn

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from records_service.finance.reconcile import pounds
from records_service.reports.lines import FINDING_TITLES, PanelReport

SECTIONS = (
    ("summary", "Summary"),
    ("awards", "Contracts and grants awarded"),
    ("completeness", "Completeness of each case file"),
    ("money", "Monitoring outcomes and spend against award"),
    ("findings", "Open findings by kind"),
    ("disposals", "Disposals carried out"),
    ("checkpoint", "The audit log's signed checkpoint"),
)


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _day(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def _by_rule(gaps: list[str]) -> str:
    """Missing records in one line, each rule's label once: "A return: Q1; Q2. B"."""
    grouped: dict[str, list[str]] = {}
    for gap in gaps:
        label, _, detail = gap.partition(": ")
        grouped.setdefault(label, [])
        if detail:
            grouped[label].append(detail)
    return ". ".join(
        f"{label}: {'; '.join(details)}" if details else label for label, details in grouped.items()
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@cache
def environment() -> Environment:
    """The reports' template environment (built once)."""
    env = Environment(
        loader=PackageLoader("records_service.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
    )
    env.filters.update(pounds=pounds, moment=_moment, day=_day, b64=_b64, by_rule=_by_rule)
    return env


def render_html(report: PanelReport) -> str:
    """The report as one self-contained HTML document."""
    template = environment().get_template("panel.html")
    return template.render(r=report, sections=SECTIONS, titles=FINDING_TITLES)


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"the Panel's report fetches nothing ({url})")


def render_pdf(html: str) -> bytes:
    """The HTML laid out for print, as PDF bytes."""
    # Imported here: WeasyPrint loads pango when imported, which only a PDF needs.
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    return pdf
