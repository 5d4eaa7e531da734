"""The scorecard over a seeded journal of 1,400 runs with known figures (see ``seed.py``),
on SQLite and PostgreSQL: exact values, through the store and through the CLI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.observability.scorecard.build import load_scorecard
from pilothouse.observability.scorecard.compute import Group, Scorecard
from pilothouse.storage.sql.store import SQLStore
from tests.integration.observability.seed import SINCE, SPAN, UNTIL, seed


async def _with_store(url: str, tenant: str, work: Any) -> Any:
    store = SQLStore(url)
    await store.start()
    try:
        return await work(store)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def seeded(store_url: str) -> Iterator[tuple[str, str, Scorecard]]:
    """A fresh tenant seeded once per store, and its scorecard."""
    tenant = f"score-{uuid.uuid4().hex[:8]}"

    async def work(store: SQLStore) -> Scorecard:
        await seed(store, tenant)
        return await load_scorecard(store.outcomes, tenant, SPAN, UNTIL)

    card = asyncio.run(_with_store(store_url, tenant, work))
    yield store_url, tenant, card


_SCORECARD = ["scorecard", "--since", "7d"]


def _group(card: Scorecard, agent: str) -> Group:
    return next(g for g in card.groups if g.agent == agent)


def test_window_and_groups(seeded: tuple[str, str, Scorecard]) -> None:
    _, _, card = seeded
    assert (card.since, card.until) == (SINCE, UNTIL)
    assert [(g.agent, g.release) for g in card.groups] == [
        ("*", "*"),
        ("desk", "rel-a"),
        ("triage", "rel-b"),
    ]


def test_desk_figures_are_exact(seeded: tuple[str, str, Scorecard]) -> None:
    desk = _group(seeded[2], "desk").current
    assert desk.runs == 1000  # the five runs in progress and the other tenant's do not count
    assert desk.successes == 690  # 700 completed, 10 rejected by feedback
    assert desk.success_rate == 0.69
    assert (desk.p50_ms, desk.p95_ms, desk.p99_ms) == (590.0, 1040.0, 1080.0)
    assert desk.cost_usd == 1.0
    assert desk.cost_per_success_usd == 0.001449275
    assert desk.failures == {
        "timeout": 100,
        "throttled": 100,
        "policy_block": 0,
        "tool_error": 0,
        "limit_hit": 100,
        "upstream_error": 0,
        "rejected": 10,
        "cancelled": 0,
    }
    assert {n: (t.calls, t.errors, t.error_rate) for n, t in desk.tools.items()} == {
        "get_ticket_status": (1000, 50, 0.05),
        "search_kb": (2000, 0, 0.0),
    }
    assert desk.policy_events == {"allow": 40, "deny": 20}
    assert desk.budget_hits == 10
    assert desk.latency_histogram == [160, 250, 500, 90, 0, 0, 0, 0]
    assert [d.runs for d in desk.daily] == [216, 216, 216, 216, 136, 0, 0]
    assert desk.daily[0].successes == 150  # 153 completed, minus 3 rejected (1, 101, 201)


def test_triage_and_totals_are_exact(seeded: tuple[str, str, Scorecard]) -> None:
    _, _, card = seeded
    triage = _group(card, "triage").current
    assert (triage.runs, triage.successes, triage.success_rate) == (400, 399, 0.9975)
    assert (triage.p50_ms, triage.p95_ms, triage.p99_ms) == (2000.0, 2000.0, 2000.0)
    assert triage.cost_per_success_usd == 0.002005013
    assert triage.failures["rejected"] == 1  # the label "wrong" without a score
    total = _group(card, "*").current
    assert (total.runs, total.successes, total.success_rate) == (1400, 1089, 0.777857)
    assert (total.p50_ms, total.p95_ms, total.p99_ms) == (790.0, 2000.0, 2000.0)
    assert total.cost_usd == 1.8
    assert total.cost_per_success_usd == 0.001652893


def test_week_over_week(seeded: tuple[str, str, Scorecard]) -> None:
    _, _, card = seeded
    desk = _group(card, "desk")
    assert desk.previous.runs == 200 and desk.previous.p50_ms == 500.0
    assert desk.change.runs == 800
    assert desk.change.success_rate == -0.31
    assert (desk.change.p50_ms, desk.change.p95_ms, desk.change.p99_ms) == (90.0, 540.0, 580.0)
    assert desk.change.cost_per_success_usd == 0.000449275
    triage = _group(card, "triage")
    assert triage.previous.runs == 0 and triage.change.success_rate is None
    assert _group(card, "*").change.success_rate == -0.222143


def test_cli_json_equals_the_computation(seeded: tuple[str, str, Scorecard]) -> None:
    url, tenant, card = seeded
    result = CliRunner().invoke(
        app,
        [
            *_SCORECARD,
            "--until",
            str(UNTIL),
            "--format",
            "json",
            "--tenant",
            tenant,
            "--store",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == orjson.loads(orjson.dumps(card.to_dict()))


def test_cli_agent_filter_and_markdown(seeded: tuple[str, str, Scorecard], tmp_path: Path) -> None:
    url, tenant, _ = seeded
    out = tmp_path / "card.md"
    args = [*_SCORECARD, "--until", "2027-01-16T00:00:00Z", "--agent", "triage"]
    result = CliRunner().invoke(app, [*args, "--tenant", tenant, "--store", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| triage | rel-b | 400 | 99.8% | 2000 ms | 2000 ms | 2000 ms | $0.002005 |" in text
    assert "desk" not in text
    assert "## Failure taxonomy" in text and "## Tool error rates" in text


def test_cli_rejects_a_bad_window(seeded: tuple[str, str, Scorecard]) -> None:
    url = seeded[0]
    result = CliRunner().invoke(app, ["scorecard", "--since", "soon", "--store", url])
    assert result.exit_code == 1
    assert "'soon' is not a duration" in result.output
