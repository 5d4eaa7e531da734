"""The scorecard as Markdown (for a weekly post or a pull request)."""

from __future__ import annotations

from pilothouse.observability.scorecard.compute import Scorecard, iso
from pilothouse.observability.scorecard.tables import tables


def render_markdown(card: Scorecard) -> str:
    """The whole scorecard: summary, week-over-week, failures, tools, policy and budgets."""
    lines = [
        "# Reliability scorecard",
        "",
        f"Window {iso(card.since)} → {iso(card.until)}, compared with the window of the same "
        "length before it. `*` rows are totals over every agent.",
    ]
    for table in tables(card):
        lines += ["", f"## {table.title}", "", _row(table.head), _rule(len(table.head))]
        lines += [_row(row) for row in table.rows]
    return "\n".join(lines) + "\n"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _rule(n: int) -> str:
    return "|" + "---|" * n
