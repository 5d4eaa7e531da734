"""The scorecard's figures: a pure function of run records, no I/O.

Definitions (stable: the tests assert exact values):

* **Runs** are finished runs created in the window ``[since, until)``; runs still in
  progress are not counted.
* **Latency percentiles** use the nearest-rank method: ``pN`` is the value at rank
  ``ceil(N/100 · n)`` of the sorted latencies (an observed value, never interpolated).
* **Success rate** is successful tasks / runs (:mod:`pilothouse.observability.outcomes`).
* **Cost per successful task** is the cost of *all* runs / successful tasks: failures are
  paid for too, and that is the unit economics a team lives with. None without successes.
* **Tool error rate** is calls that ended in error / calls, per tool.
* **Week-over-week** compares with the previous window of the same length: the change of
  each figure is ``current - previous`` (None when either side is None).
* Money is rounded to 9 decimals, rates to 6, latencies are as recorded.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pilothouse.observability.outcomes import FAILURE_CLASSES, SUCCESS
from pilothouse.observability.scorecard.records import RunRecord

# Upper bounds (ms) of the latency histogram's buckets; the last bucket is open-ended.
LATENCY_BUCKETS_MS = (250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0)
ALL = "*"


@dataclass(slots=True)
class ToolFigures:
    """Calls, errors and the error rate of one tool."""

    calls: int
    errors: int
    error_rate: float


@dataclass(slots=True)
class DayFigures:
    """One UTC day of the window: spend, successes and cost per successful task."""

    day: str
    runs: int
    successes: int
    cost_usd: float
    cost_per_success_usd: float | None


@dataclass(slots=True)
class Figures:
    """The figures of one group of runs (an agent and release, or everything)."""

    runs: int
    successes: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cost_usd: float
    cost_per_success_usd: float | None
    failures: dict[str, int]
    tools: dict[str, ToolFigures]
    policy_events: dict[str, int]
    budget_hits: int
    latency_histogram: list[int]
    daily: list[DayFigures] = field(default_factory=list)


@dataclass(slots=True)
class Change:
    """Week-over-week change of the headline figures (current - previous)."""

    runs: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cost_per_success_usd: float | None


@dataclass(slots=True)
class Group:
    """One row of the scorecard: an agent on a release (``*`` for totals)."""

    agent: str
    release: str
    current: Figures
    previous: Figures
    change: Change


@dataclass(slots=True)
class Scorecard:
    """Every group of the window, totals first."""

    since: float
    until: float
    groups: list[Group]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (times as ISO-8601 UTC, too)."""
        return {
            "since": self.since,
            "until": self.until,
            "since_iso": iso(self.since),
            "until_iso": iso(self.until),
            "failure_classes": list(FAILURE_CLASSES),
            "latency_buckets_ms": list(LATENCY_BUCKETS_MS),
            "groups": [asdict(g) for g in self.groups],
        }


def iso(epoch: float) -> str:
    """Epoch seconds as ISO-8601 UTC."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def compute(
    current: list[RunRecord], previous: list[RunRecord], since: float, until: float
) -> Scorecard:
    """The scorecard of ``current`` (runs of ``[since, until)``) against ``previous``."""
    keys = sorted({(r.agent, r.release) for r in current})
    groups = [_group(ALL, ALL, current, previous, since, until)]
    for agent, release in keys:
        now = [r for r in current if r.agent == agent and r.release == release]
        before = [r for r in previous if r.agent == agent and r.release == release]
        groups.append(_group(agent, release, now, before, since, until))
    return Scorecard(since, until, groups)


def _group(
    agent: str,
    release: str,
    current: list[RunRecord],
    previous: list[RunRecord],
    since: float,
    until: float,
) -> Group:
    now = figures(current, since, until)
    before = figures(previous, since - (until - since), since)
    return Group(agent, release, now, before, _change(now, before))


def figures(records: list[RunRecord], since: float, until: float) -> Figures:
    """The figures of ``records``, with a daily series over ``[since, until)``."""
    latencies = sorted(r.latency_ms for r in records)
    outcomes = Counter(r.outcome for r in records)
    successes = outcomes[SUCCESS]
    cost = _money(sum(r.cost_usd for r in records))
    policy: Counter[str] = Counter()
    for r in records:
        policy.update(r.policy)
    return Figures(
        runs=len(records),
        successes=successes,
        success_rate=_rate(successes, len(records)),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        cost_usd=cost,
        cost_per_success_usd=_money(cost / successes) if successes else None,
        failures={name: outcomes[name] for name in FAILURE_CLASSES},
        tools=_tools(records),
        policy_events=dict(sorted(policy.items())),
        budget_hits=sum(1 for r in records if r.budget_hit),
        latency_histogram=histogram(latencies),
        daily=_daily(records, since, until),
    )


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def histogram(latencies: list[float]) -> list[int]:
    """Counts per :data:`LATENCY_BUCKETS_MS` bucket (``≤ bound``), plus the overflow."""
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for value in latencies:
        index = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS_MS) if value <= bound),
            len(LATENCY_BUCKETS_MS),
        )
        counts[index] += 1
    return counts


def _tools(records: list[RunRecord]) -> dict[str, ToolFigures]:
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for r in records:
        for name, (made, failed) in r.tools.items():
            calls[name] += made
            errors[name] += failed
    return {
        name: ToolFigures(calls[name], errors[name], _rate(errors[name], calls[name]) or 0.0)
        for name in sorted(calls)
    }


def _daily(records: list[RunRecord], since: float, until: float) -> list[DayFigures]:
    days: list[DayFigures] = []
    start = since
    while start < until:
        end = min(start + 86400.0, until)
        chunk = [r for r in records if start <= r.created_at < end]
        wins = sum(1 for r in chunk if r.outcome == SUCCESS)
        spent = _money(sum(r.cost_usd for r in chunk))
        days.append(
            DayFigures(
                iso(start)[:10], len(chunk), wins, spent, _money(spent / wins) if wins else None
            )
        )
        start = end
    return days


def _change(now: Figures, before: Figures) -> Change:
    return Change(
        runs=now.runs - before.runs,
        success_rate=_delta(now.success_rate, before.success_rate, 6),
        p50_ms=_delta(now.p50_ms, before.p50_ms, 3),
        p95_ms=_delta(now.p95_ms, before.p95_ms, 3),
        p99_ms=_delta(now.p99_ms, before.p99_ms, 3),
        cost_per_success_usd=_delta(now.cost_per_success_usd, before.cost_per_success_usd, 9),
    )


def _delta(now: float | None, before: float | None, digits: int) -> float | None:
    return None if now is None or before is None else round(now - before, digits)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _money(value: float) -> float:
    return round(value, 9)
