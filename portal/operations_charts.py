"""What the operations pages draw and say, computed in Python so that templates stay
plain: bar charts as inline-SVG geometry (no script, no style attribute: the strict CSP
allows them) and durations in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def duration_in_words(seconds: float | None) -> str:
    """ "0.4 s", "42 s", "3 min", "2 h 5 min", "3 days"; "" for None."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{int(seconds // 86400)} days"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what a screen reader and the hover title say


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    peak_label: str
    first_label: str
    last_label: str
    baseline: float


def bar_chart(
    points: list[tuple[datetime, float | None]],
    *,
    unit: str,
    width: int = 600,
    height: int = 140,
    describe=None,
) -> BarChart:
    """One bar per point, scaled to the largest value; None draws no bar."""
    describe = describe or (lambda value: f"{value:g} {unit}")
    top, bottom = 16, 20
    plot_height = height - top - bottom
    peak = max((value for _, value in points if value), default=0) or 1
    step = width / max(len(points), 1)
    bars = []
    for index, (moment, value) in enumerate(points):
        if not value:
            continue
        bar_height = max(plot_height * value / peak, 1.0)
        bars.append(
            Bar(
                x=round(index * step + 1, 1),
                y=round(top + plot_height - bar_height, 1),
                width=round(max(step - 2, 1), 1),
                height=round(bar_height, 1),
                label=f"{moment:%H:%M} UTC: {describe(value)}",
            )
        )
    return BarChart(
        width=width,
        height=height,
        bars=bars,
        peak_label=describe(peak if any(value for _, value in points) else 0),
        first_label=f"{points[0][0]:%H:%M}" if points else "",
        last_label=f"{points[-1][0]:%H:%M}" if points else "",
        baseline=top + plot_height,
    )
