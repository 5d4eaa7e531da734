"""The scorecard's tables as cells: what the Markdown and HTML renderings both show, in
the order they show it. Each rendering only decides how a table is printed."""

from __future__ import annotations

from dataclasses import dataclass

from pilothouse.observability.outcomes import FAILURE_CLASSES
from pilothouse.observability.scorecard.compute import Group, Scorecard
from pilothouse.observability.scorecard.fmt import ms, pct, signed, usd


@dataclass(frozen=True, slots=True)
class Table:
    """One titled table: its head and its rows of formatted cells."""

    title: str
    head: list[str]
    rows: list[list[str]]


def tables(card: Scorecard) -> list[Table]:
    """Summary, week over week, failures, tools, then policy and budgets."""
    groups = card.groups
    return [
        Table(
            "Summary",
            ["agent", "release", "runs", "success", "p50", "p95", "p99", "cost / success"],
            [_summary(g) for g in groups],
        ),
        Table(
            "Week over week",
            ["agent", "release", "runs", "success rate", "p50", "p95", "p99", "cost / success"],
            [_week_over_week(g) for g in groups],
        ),
        Table(
            "Failure taxonomy",
            ["agent", "release", *FAILURE_CLASSES],
            [
                [g.agent, g.release, *(str(g.current.failures[c]) for c in FAILURE_CLASSES)]
                for g in groups
            ],
        ),
        Table(
            "Tool error rates",
            ["agent", "release", "tool", "calls", "errors", "error rate"],
            [
                [g.agent, g.release, name, str(t.calls), str(t.errors), pct(t.error_rate)]
                for g in groups
                for name, t in g.current.tools.items()
            ],
        ),
        Table(
            "Policy events and budget hits",
            ["agent", "release", "policy events", "by decision", "budget hits"],
            [_policy(g) for g in groups],
        ),
    ]


def _summary(g: Group) -> list[str]:
    f = g.current
    return [
        g.agent,
        g.release,
        str(f.runs),
        pct(f.success_rate),
        ms(f.p50_ms),
        ms(f.p95_ms),
        ms(f.p99_ms),
        usd(f.cost_per_success_usd),
    ]


def _week_over_week(g: Group) -> list[str]:
    c = g.change
    return [
        g.agent,
        g.release,
        f"{c.runs:+d}",
        signed(c.success_rate, " pp", 100.0),
        signed(c.p50_ms, " ms", digits=0),
        signed(c.p95_ms, " ms", digits=0),
        signed(c.p99_ms, " ms", digits=0),
        signed(c.cost_per_success_usd, "", 1.0, 4),
    ]


def _policy(g: Group) -> list[str]:
    events = g.current.policy_events
    detail = ", ".join(f"{k} {v}" for k, v in events.items()) or "-"
    return [g.agent, g.release, str(sum(events.values())), detail, str(g.current.budget_hits)]
