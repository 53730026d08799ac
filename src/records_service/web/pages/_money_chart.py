"""The contract page's money chart: award, variations, value, scheduled, paid, reported
spent and recovered as horizontal bars, drawn as SVG by the server (no script).

Only the geometry is worked out here; ``_money.html`` draws it, with a ``<title>`` and
a ``<desc>`` that say the same numbers in words for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass

from records_service.finance.reconcile import pounds
from records_service.finance.schemas import MoneySummary

LABEL_WIDTH = 150
BAR_SPACE = 330
ROW_HEIGHT = 30
BAR_HEIGHT = 18
TOP = 6
WIDTH = LABEL_WIDTH + BAR_SPACE + 140


@dataclass(frozen=True)
class Bar:
    """One bar: what it shows, where it is, and how it is coloured (a CSS class)."""

    label: str
    pence: int
    amount: str
    y: int
    x: int
    width: int
    style: str

    @property
    def text_y(self) -> int:
        """Where the bar's label and amount sit (their baseline)."""
        return self.y + BAR_HEIGHT - 4


@dataclass(frozen=True)
class Chart:
    """The bars, the drawing's size, and the sentence that describes it."""

    bars: list[Bar]
    width: int
    height: int
    description: str
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def money_chart(summary: MoneySummary) -> Chart:
    """The chart of a contract's money summary."""
    values = [
        ("Awarded", summary.award_pence, "award"),
        ("Variations", summary.variations_pence, "variation"),
        ("Current value", summary.value_pence, "value"),
        ("Scheduled to date", summary.scheduled_to_date_pence, "scheduled"),
        ("Paid", summary.paid_pence, "paid"),
        ("Reported spent", summary.reported_spent_pence, "spent"),
        ("Recovered", summary.recovered_pence, "recovered"),
    ]
    largest = max([abs(pence) for _, pence, _ in values] + [1])
    bars = []
    for row, (label, pence, style) in enumerate(values):
        width = round(abs(pence) * BAR_SPACE / largest)
        style = "reduction" if pence < 0 else style
        bars.append(
            Bar(
                label,
                pence,
                pounds(pence),
                TOP + row * ROW_HEIGHT,
                LABEL_WIDTH,
                max(width, 1 if pence else 0),
                style,
            )
        )
    words = "; ".join(f"{label.lower()} {pounds(pence)}" for label, pence, _ in values)
    description = f"As at {summary.as_at:%-d %B %Y}: {words}."
    return Chart(bars, WIDTH, TOP * 2 + len(values) * ROW_HEIGHT, description)
