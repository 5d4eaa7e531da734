"""Inline SVG charts for the HTML scorecard, generated in Python.

No JavaScript and nothing fetched: the HTML file must open offline, years later, from an
e-mail attachment. Each function returns one ``<svg>`` element as text; every label is
escaped.
"""

from __future__ import annotations

from html import escape

from pilothouse.observability.scorecard.compute import LATENCY_BUCKETS_MS, DayFigures
from pilothouse.observability.scorecard.fmt import ms, usd

WIDTH = 520
HEIGHT = 220
_PAD_LEFT = 48
_PAD_BOTTOM = 36
_PAD_TOP = 36
_BAR = "#3b6ea8"
_BAD = "#c0504d"
_LINE = "#2e8b57"


def _svg(title: str, body: list[str], height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" class="t">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _axes(height: int) -> list[str]:
    bottom = height - _PAD_BOTTOM
    return [
        f'<line x1="{_PAD_LEFT}" y1="{_PAD_TOP}" x2="{_PAD_LEFT}" y2="{bottom}" class="a"/>',
        f'<line x1="{_PAD_LEFT}" y1="{bottom}" x2="{WIDTH - 8}" y2="{bottom}" class="a"/>',
    ]


def latency_chart(counts: list[int], title: str = "Latency distribution (runs)") -> str:
    """A bar per latency bucket (``≤ 250 ms`` … ``> 30 s``)."""
    labels = [f"≤{ms(b)}" for b in LATENCY_BUCKETS_MS] + [f">{ms(LATENCY_BUCKETS_MS[-1])}"]
    return _bars(title, labels, counts, _BAR)


def failure_chart(failures: dict[str, int], title: str = "Failure taxonomy (runs)") -> str:
    """A bar per failure class."""
    return _bars(title, [k.replace("_", " ") for k in failures], list(failures.values()), _BAD)


def _bars(title: str, labels: list[str], values: list[int], colour: str) -> str:
    plot_w = WIDTH - _PAD_LEFT - 8
    plot_h = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    top = max(values) if values and max(values) > 0 else 1
    step = plot_w / max(1, len(values))
    body = _axes(HEIGHT)
    body.append(f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 4}" class="y">{top}</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        x = _PAD_LEFT + i * step + step * 0.15
        y = HEIGHT - _PAD_BOTTOM - h
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{escape(label)}: {value}</title></rect>'
        )
        if value:
            body.append(f'<text x="{x + step * 0.35:.1f}" y="{y - 3:.1f}" class="v">{value}</text>')
        body.append(
            f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - _PAD_BOTTOM + 14}" '
            f'class="x">{escape(label)}</text>'
        )
    return _svg(title, body)


def cost_chart(days: list[DayFigures], title: str = "Cost per successful task, by day") -> str:
    """A line over the days of the window (days without successes leave a gap)."""
    plot_w = WIDTH - _PAD_LEFT - 8
    plot_h = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    values = [d.cost_per_success_usd for d in days]
    known = [v for v in values if v is not None]
    top = max(known) if known and max(known) > 0 else 1.0
    step = plot_w / max(1, len(days))
    body = _axes(HEIGHT)
    body.append(f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 4}" class="y">{escape(usd(top))}</text>')
    points: list[str] = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        x = _PAD_LEFT + step * (i + 0.5)
        label = escape(day.day[5:])
        body.append(f'<text x="{x:.1f}" y="{HEIGHT - _PAD_BOTTOM + 14}" class="x">{label}</text>')
        if value is None:
            _flush(points, body)
            continue
        y = HEIGHT - _PAD_BOTTOM - plot_h * value / top
        points.append(f"{x:.1f},{y:.1f}")
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{_LINE}">'
            f"<title>{escape(day.day)}: {escape(usd(value))}</title></circle>"
        )
    _flush(points, body)
    return _svg(title, body)


def _flush(points: list[str], body: list[str]) -> None:
    if len(points) > 1:
        body.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{_LINE}" stroke-width="2"/>'
        )
    points.clear()


STYLE = (
    "svg .t{font:600 13px sans-serif}svg .x{font:10px sans-serif;text-anchor:middle}"
    "svg .y{font:10px sans-serif;text-anchor:end}svg .v{font:10px sans-serif;"
    "text-anchor:middle}svg .a{stroke:#888;stroke-width:1}"
)
