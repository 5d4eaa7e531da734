"""The scorecard as one self-contained HTML file: tables, and inline SVG charts per group.

Nothing is loaded from anywhere (no CDN, no script, no web font), so the file opens
offline; every value that comes from data is escaped.
"""

from __future__ import annotations

from html import escape

from pilothouse.observability.scorecard.charts import (
    STYLE,
    cost_chart,
    failure_chart,
    latency_chart,
)
from pilothouse.observability.scorecard.compute import Group, Scorecard, iso
from pilothouse.observability.scorecard.tables import tables

_PAGE_STYLE = (
    "body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1120px}"
    "table{border-collapse:collapse;margin:8px 0 20px}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}"
    "th{background:#f2f4f7}.charts{display:flex;flex-wrap:wrap;gap:12px}"
    "h2{margin-top:28px}h3{margin-bottom:4px}"
)


def render_html(card: Scorecard) -> str:
    """The whole page."""
    window = f"{iso(card.since)} → {iso(card.until)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Pilothouse reliability scorecard {escape(window)}</title>",
        f"<style>{_PAGE_STYLE}{STYLE}</style></head><body>",
        "<h1>Reliability scorecard</h1>",
        f"<p>Window {escape(window)}, compared with the window of the same length before it. "
        "<code>*</code> rows are totals over every agent.</p>",
        *(
            part
            for table in tables(card)
            for part in (f"<h2>{escape(table.title)}</h2>", _table(table.head, table.rows))
        ),
        "<h2>Charts</h2>",
        *(_charts(g) for g in card.groups),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _charts(g: Group) -> str:
    f = g.current
    title = "All agents" if g.agent == "*" else f"{g.agent} on {g.release}"
    return (
        f'<h3>{escape(title)}</h3><div class="charts">'
        f"{latency_chart(f.latency_histogram)}{cost_chart(f.daily)}{failure_chart(f.failures)}"
        "</div>"
    )


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
