"""Runs as the scorecard sees them: one flat record per finished run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pilothouse.observability.outcomes import is_budget_hit, outcome_of
from pilothouse.storage.outcomes import FinishedRun, StoredFeedback

NO_RELEASE = "(bundle)"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What the scorecard needs of one run.

    Attributes:
        release: The release id the run ran on (``(bundle)`` when served from a directory).
        latency_ms: Wall-clock time from start to finish.
        outcome: ``success`` or a failure class (:mod:`pilothouse.observability.outcomes`).
        tools: Calls and errors per tool, ``{name: (calls, errors)}``.
        policy: Policy decisions by kind (``allow``, ``deny``, ``needs_approval``).
    """

    run_id: str
    agent: str
    release: str
    created_at: float
    latency_ms: float
    cost_usd: float
    outcome: str
    budget_hit: bool = False
    tools: dict[str, tuple[int, int]] = field(default_factory=dict)
    policy: dict[str, int] = field(default_factory=dict)


def to_records(runs: list[FinishedRun], feedback: list[StoredFeedback]) -> list[RunRecord]:
    """Records of the finished runs among ``runs`` (runs still in progress are left out)."""
    by_response: dict[str, list[StoredFeedback]] = defaultdict(list)
    for record in feedback:
        by_response[record.response_id].append(record)
    return [
        _record(run, by_response.get(run.run.id, [])) for run in runs if run.finished is not None
    ]


def _record(run: FinishedRun, feedback: list[StoredFeedback]) -> RunRecord:
    finished: dict[str, Any] = run.finished or {}
    header = run.run
    latency = finished.get("latency_ms")
    if latency is None:  # journal v1: no latency on run.finished
        latency = max(0.0, ((run.finished_at or header.created_at) - header.created_at) * 1000.0)
    tools = {
        name: (int(figures.get("calls", 0)), int(figures.get("errors", 0)))
        for name, figures in (finished.get("tools") or {}).items()
    }
    return RunRecord(
        run_id=header.id,
        agent=header.agent,
        release=finished.get("release_id") or NO_RELEASE,
        created_at=float(header.created_at),
        latency_ms=float(latency),
        cost_usd=float(finished.get("cost_usd") or 0.0),
        outcome=outcome_of(finished, feedback),
        budget_hit=is_budget_hit(finished.get("reason")),
        tools=tools,
        policy={str(k): int(v) for k, v in (finished.get("policy") or {}).items()},
    )
