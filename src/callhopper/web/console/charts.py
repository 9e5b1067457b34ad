"""The dashboard's charts as SVG drawn on the server (no script, nothing from another site):
horizontal bars of each agent's progress, and stacked columns of deliveries over time.

A chart is a picture of numbers the page also shows in a table next to it: the SVG is
``role="img"`` with a label, and its own text (names, counts, times) is data, never
translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Colours with at least 3:1 contrast on white, told apart by more than hue in the legend.
PALETTE = ("#1f4e79", "#2e7d32", "#b35c00", "#a3161b", "#6a3d9a", "#00695c", "#5d4037")
ROW_HEIGHT = 18
LABEL_WIDTH = 140
BAR_WIDTH = 420
#: The colour of a value above its target.
OVER_TARGET = "#b3261e"
COLUMN_AREA = 200


@dataclass(frozen=True)
class Series:
    """One measure of a chart: its key (for the legend's colour) and a value per row."""

    key: str
    values: Sequence[int]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" translate="no">' + "".join(body) + "</svg>"
    )


def bars(rows: Sequence[str], series: Sequence[Series], label: str) -> Markup:
    """One group of horizontal bars per row (an agent), one bar per series, scaled to the
    largest value."""
    top = max([1, *(v for s in series for v in s.values)])
    group = ROW_HEIGHT * len(series) + 10
    height = group * max(1, len(rows)) + 10
    body: list[str] = []
    for r, name in enumerate(rows):
        y0 = 5 + r * group
        body.append(
            f'<text x="0" y="{y0 + group / 2:.0f}" dominant-baseline="middle">{escape(name)}</text>'
        )
        for n, s in enumerate(series):
            value = s.values[r]
            width = BAR_WIDTH * value / top
            y = y0 + n * ROW_HEIGHT
            body.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{ROW_HEIGHT - 4}" '
                f'fill="{colour(n)}"><title>{escape(s.key)}: {value}</title></rect>'
                f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + ROW_HEIGHT / 2:.0f}" '
                f'dominant-baseline="middle">{value}</text>'
            )
    return _svg(LABEL_WIDTH + BAR_WIDTH + 60, height, label, body)


def columns(ticks: Sequence[str], series: Sequence[Series], label: str) -> Markup:
    """Stacked columns, one per tick (a time bucket), one colour per series."""
    count = max(1, len(ticks))
    totals = [sum(s.values[i] for s in series) for i in range(len(ticks))]
    top = max([1, *totals])
    step = 560 / count
    body: list[str] = [
        f'<line x1="30" y1="{COLUMN_AREA}" x2="600" y2="{COLUMN_AREA}" stroke="#4a5560"/>'
    ]
    body.append(f'<text x="0" y="12">{top}</text><text x="0" y="{COLUMN_AREA}">0</text>')
    for i, tick in enumerate(ticks):
        x = 35 + i * step
        y = float(COLUMN_AREA)
        for n, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = (COLUMN_AREA - 10) * value / top
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" '
                f'fill="{colour(n)}"><title>{escape(tick)} {escape(s.key)}: {value}</title></rect>'
            )
        if i % max(1, count // 6) == 0:
            body.append(f'<text x="{x:.1f}" y="{COLUMN_AREA + 16}">{escape(tick)}</text>')
    return _svg(610, COLUMN_AREA + 24, label, body)


def rate_columns(ticks: Sequence[str], rates: Sequence[float], target: float, label: str) -> Markup:
    """One column per tick (a day) of a rate between 0 and 1, with the target as a dashed
    line; a column above the target is drawn in the warning colour."""
    count = max(1, len(ticks))
    top = max([target * 1.5, *rates, 0.01])
    step = 560 / count
    target_y = COLUMN_AREA - (COLUMN_AREA - 10) * target / top
    body: list[str] = [
        f'<line x1="30" y1="{COLUMN_AREA}" x2="600" y2="{COLUMN_AREA}" stroke="#4a5560"/>',
        f'<text x="0" y="12">{top:.1%}</text><text x="0" y="{COLUMN_AREA}">0%</text>',
    ]
    for i, (tick, rate) in enumerate(zip(ticks, rates, strict=True)):
        x = 35 + i * step
        h = (COLUMN_AREA - 10) * rate / top
        fill = OVER_TARGET if rate > target else colour(0)
        body.append(
            f'<rect x="{x:.1f}" y="{COLUMN_AREA - h:.1f}" width="{step * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{fill}"><title>{escape(tick)}: {rate:.2%}</title></rect>'
        )
        if i % max(1, count // 6) == 0:
            body.append(f'<text x="{x:.1f}" y="{COLUMN_AREA + 16}">{escape(tick)}</text>')
    body.append(
        f'<line x1="30" y1="{target_y:.1f}" x2="600" y2="{target_y:.1f}" stroke="#4a5560" '
        f'stroke-dasharray="6 4"><title>{target:.2%}</title></line>'
    )
    return _svg(610, COLUMN_AREA + 24, label, body)
