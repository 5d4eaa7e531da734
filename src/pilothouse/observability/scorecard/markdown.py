"""The scorecard as Markdown (for a weekly post or a pull request)."""

from __future__ import annotations

from pilothouse.observability.outcomes import FAILURE_CLASSES
from pilothouse.observability.scorecard.compute import Group, Scorecard, iso
from pilothouse.observability.scorecard.fmt import ms, pct, signed, usd


def render_markdown(card: Scorecard) -> str:
    """The whole scorecard: summary, week-over-week, failures, tools, policy and budgets."""
    lines = [
        "# Reliability scorecard",
        "",
        f"Window {iso(card.since)} → {iso(card.until)}, compared with the window of the same "
        "length before it. `*` rows are totals over every agent.",
        "",
        "## Summary",
        "",
        _row(["agent", "release", "runs", "success", "p50", "p95", "p99", "cost / success"]),
        _rule(8),
    ]
    for g in card.groups:
        f = g.current
        lines.append(
            _row(
                [
                    *_name(g),
                    str(f.runs),
                    pct(f.success_rate),
                    ms(f.p50_ms),
                    ms(f.p95_ms),
                    ms(f.p99_ms),
                    usd(f.cost_per_success_usd),
                ]
            )
        )
    lines += ["", "## Week over week", "", _row(_WOW_HEAD), _rule(len(_WOW_HEAD))]
    lines += [_row([*_name(g), *_wow(g)]) for g in card.groups]
    lines += ["", "## Failure taxonomy", "", _row(["agent", "release", *FAILURE_CLASSES])]
    lines.append(_rule(2 + len(FAILURE_CLASSES)))
    lines += [
        _row([*_name(g), *(str(g.current.failures[c]) for c in FAILURE_CLASSES)])
        for g in card.groups
    ]
    lines += _tools(card) + _policy(card)
    return "\n".join(lines) + "\n"


_WOW_HEAD = ["agent", "release", "runs", "success rate", "p50", "p95", "p99", "cost / success"]


def _wow(g: Group) -> list[str]:
    c = g.change
    return [
        f"{c.runs:+d}",
        signed(c.success_rate, " pp", 100.0),
        signed(c.p50_ms, " ms", digits=0),
        signed(c.p95_ms, " ms", digits=0),
        signed(c.p99_ms, " ms", digits=0),
        signed(c.cost_per_success_usd, "", 1.0, 4),
    ]


def _tools(card: Scorecard) -> list[str]:
    head = ["agent", "release", "tool", "calls", "errors", "error rate"]
    lines = ["", "## Tool error rates", "", _row(head), _rule(len(head))]
    for g in card.groups:
        for name, t in g.current.tools.items():
            lines.append(_row([*_name(g), name, str(t.calls), str(t.errors), pct(t.error_rate)]))
    return lines


def _policy(card: Scorecard) -> list[str]:
    head = ["agent", "release", "policy events", "by decision", "budget hits"]
    lines = ["", "## Policy events and budget hits", "", _row(head), _rule(len(head))]
    for g in card.groups:
        events = g.current.policy_events
        detail = ", ".join(f"{k} {v}" for k, v in events.items()) or "-"
        lines.append(
            _row([*_name(g), str(sum(events.values())), detail, str(g.current.budget_hits)])
        )
    return lines


def _name(g: Group) -> list[str]:
    return [g.agent, g.release]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _rule(n: int) -> str:
    return "|" + "---|" * n
