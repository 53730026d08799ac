"""The Panel's report as HTML, from one Jinja template, and the words both formats share.

The HTML is self-contained (its style inline, nothing fetched), so the same bytes
read alike in a browser today and from the archive later. The PDF (``pdf``) is laid
out from the same report data, with the same parts (``SECTIONS``) and the same ways
of writing moments, days and missing records (``moment``, ``day``, ``by_rule``).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache

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


def moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def by_rule(gaps: list[str]) -> str:
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


def b64(value: bytes) -> str:
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
    env.filters.update(pounds=pounds, moment=moment, day=day, b64=b64, by_rule=by_rule)
    return env


def render_html(report: PanelReport) -> str:
    """The report as one self-contained HTML document."""
    template = environment().get_template("panel.html")
    return template.render(r=report, sections=SECTIONS, titles=FINDING_TITLES)
