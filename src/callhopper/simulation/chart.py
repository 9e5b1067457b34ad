"""The chart of a simulated day: calls in flight, the day's abandon rate and the agents'
occupancy over time, as one self-contained HTML page with inline SVG (no script, no CDN)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from callhopper.simulation.run import DayReport, Sample

WIDTH, HEIGHT = 900, 220
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 20, 30


def _panel(
    samples: Sequence[Sample],
    hours: float,
    value: Callable[[Sample], float],
    top: float,
    label: str,
    unit: str,
    colour: str,
) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    end_s = max(hours * 3600, 1.0)
    points = " ".join(
        f"{LEFT + plot_w * s.at_s / end_s:.1f},{TOP + plot_h * (1 - min(value(s), top) / top):.1f}"
        for s in samples
    )
    grid = []
    for k in range(5):
        y = TOP + plot_h * k / 4
        grid.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{top * (1 - k / 4):.3g}{unit}</text>"
        )
    for hour in range(int(hours) + 1):
        x = LEFT + plot_w * hour * 3600 / end_s
        grid.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{hour} h</text>')
    return (
        f"<figure><figcaption>{escape(label)}</figcaption>"
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">{"".join(grid)}'
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/></svg>'
        "</figure>"
    )


def day_chart(report: DayReport, title: str, summary: Sequence[tuple[str, str]]) -> str:
    """The page: the report's figures, then one panel per curve."""
    samples = report.samples
    most = max((s.in_flight for s in samples), default=1) or 1
    rate_top = max(0.05, max((s.abandon_rate for s in samples), default=0.0) * 1.2)
    rows = "".join(
        f"<tr><th scope='row'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in summary
    )
    panels = [
        _panel(samples, report.hours, lambda s: s.in_flight, most * 1.1, "Calls in flight", "",
               "#1f5f99"),
        _panel(samples, report.hours, lambda s: 100 * s.abandon_rate, 100 * rate_top,
               "Abandon rate of the day so far", "%", "#b3261e"),
        _panel(samples, report.hours, lambda s: 100 * s.occupancy, 100.0,
               "Occupancy (agents talking or wrapping up)", "%", "#2e7d32"),
    ]  # fmt: skip
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}"
        "table{border-collapse:collapse;margin-bottom:1rem}th,td{padding:2px 12px;"
        "text-align:left}figure{margin:0 0 1rem}figcaption{font-weight:600}"
        "svg text{font-size:11px;fill:#444}.grid{stroke:#ddd}"
        f"</style></head><body><h1>{escape(title)}</h1><table>{rows}</table>"
        f"{''.join(panels)}</body></html>"
    )
