"""Geometry of the server-drawn SVG charts (templates/charts/*.html draw it).

No chart means anything by colour alone: each bar carries its value as text, the late
part of a bar is hatched as well as coloured, and each chart has a table alternative."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 220
LEFT = 36
BOTTOM = 36
TOP = 20


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: float
    height: float
    late_y: float
    late_height: float
    value_text: str
    label: str
    label_x: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, text) of the horizontal grid lines
    axis_y: float
    left: int


def bar_chart(
    title: str,
    points: Sequence[tuple[str, float | None, float]],
    *,
    maximum: float | None = None,
    suffix: str = "",
) -> BarChart:
    """`points` are (label, value, hatched part of the value); a None value is "no data"
    (drawn as an en dash, not as a zero bar)."""
    values = [value for _, value, _ in points if value is not None]
    top = maximum or max(values or [0]) or 1
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(points), 1)
    bars = []
    for index, (label, value, hatched) in enumerate(points):
        height = plot_height * (value or 0) / top
        late_height = plot_height * min(hatched, value or 0) / top
        x = LEFT + index * slot + slot * 0.15
        y = TOP + plot_height - height
        bars.append(
            Bar(
                x=round(x, 1),
                width=round(slot * 0.7, 1),
                y=round(y, 1),
                height=round(height, 1),
                late_y=round(y, 1),
                late_height=round(late_height, 1),
                value_text="n/a" if value is None else f"{value:g}{suffix}",
                label=label,
                label_x=round(x + slot * 0.35, 1),
            )
        )
    ticks = [
        (round(TOP + plot_height - plot_height * step / 4, 1), f"{top * step / 4:g}{suffix}")
        for step in range(5)
    ]
    return BarChart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        ticks=ticks,
        axis_y=TOP + plot_height,
        left=LEFT,
    )


@dataclass(frozen=True)
class RoutePoint:
    x: float
    y: float
    label: str
    detail: str
    reached: bool
    label_y: float


@dataclass(frozen=True)
class RouteSketch:
    width: int
    height: int
    points: list[RoutePoint]
    segments: list[tuple[float, float, float, bool]]  # (x1, x2, y, travelled: solid line)


def route_sketch(stops: Sequence[tuple[str, str, bool]]) -> RouteSketch | None:
    """Origin, stops, destination in order on one line: (place, detail, reached)."""
    if len(stops) < 2:
        return None
    width = max(WIDTH, 160 * len(stops))
    margin = 70
    step = (width - 2 * margin) / (len(stops) - 1)
    points = [
        RoutePoint(
            x=round(margin + index * step, 1),
            y=60,
            label=place,
            detail=detail,
            reached=reached,
            label_y=36 if index % 2 else 92,
        )
        for index, (place, detail, reached) in enumerate(stops)
    ]
    done = max((index for index, point in enumerate(points) if point.reached), default=-1)
    segments = [
        (before.x, after.x, before.y, index < done)
        for index, (before, after) in enumerate(itertools.pairwise(points))
    ]
    return RouteSketch(width=width, height=120, points=points, segments=segments)
