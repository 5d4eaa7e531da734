"""``pilothouse runs list|show`` against the store a live server writes, and the admin
run list (``GET /admin/v1/runs``)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.testing import ServerThread
from tests.conftest import auth_headers

QUESTION = "Check ticket INC-24531 and summarize next action."


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def two_runs(agents: openai.OpenAI) -> list[str]:
    """A completed desk run, then an incomplete one (the repeater loops into its limit)."""
    done = agents.responses.create(model="agent:desk", input=QUESTION)
    capped = agents.responses.create(model="agent:repeater", input=QUESTION)
    assert (done.status, capped.status) == ("completed", "incomplete")
    return [done.id, capped.id]


def test_list_filters_and_json(store_url: str, two_runs: list[str]) -> None:
    done, capped = two_runs
    listed = orjson.loads(
        _cli("runs", "list", "--store", store_url, "--json", "--limit", "500").stdout
    )
    assert {done, capped} <= {r["id"] for r in listed["data"]}
    created = [r["created_at"] for r in listed["data"]]
    assert created == sorted(created, reverse=True)  # newest first
    by_agent = orjson.loads(
        _cli(
            "runs", "list", "--store", store_url, "--json", "--agent", "desk", "--since", "1h"
        ).stdout
    )
    assert done in [r["id"] for r in by_agent["data"]]
    assert {r["agent"] for r in by_agent["data"]} == {"desk"}
    incomplete = orjson.loads(
        _cli("runs", "list", "--store", store_url, "--json", "--status", "incomplete").stdout
    )
    assert capped in [r["id"] for r in incomplete["data"]]
    assert done not in [r["id"] for r in incomplete["data"]]
    text = _cli("runs", "list", "--store", store_url, "--agent", "repeater", "--limit", "1").stdout
    assert capped in text and "repeater@" in text and "incomplete" in text


def test_show_renders_a_timeline_tree(store_url: str, two_runs: list[str]) -> None:
    done = two_runs[0]
    text = _cli("runs", "show", done, "--store", store_url).stdout
    lines = text.splitlines()
    assert lines[0].startswith(f"run {done}  desk@") and "completed" in lines[0]
    assert " tok" in lines[0] and "$" in lines[0] and " ms" in lines[0]
    assert lines[1].startswith("├── policy invoke_agent agent:desk  allow")
    assert lines[2].startswith("├── tools listed  get_ticket_status, search_kb")
    steps = [line for line in lines if line.startswith(("├── step", "└── step"))]
    assert len(steps) == 2 and all("model gpt-4o-mini  completed" in s for s in steps)
    tools = [line for line in lines if "── tool " in line]
    assert len(tools) == 2 and all("  ok  " in t and "1 attempt" in t for t in tools)
    assert lines[-1].startswith("└── finished  completed")


def test_show_json_carries_per_step_figures(store_url: str, two_runs: list[str]) -> None:
    capped = two_runs[1]
    tree = orjson.loads(_cli("runs", "show", capped, "--store", store_url, "--json").stdout)
    assert tree["kind"] == "run" and tree["outcome"] == "incomplete"
    steps = [c for c in tree["children"] if c["kind"] == "step"]
    assert steps and all(s["input_tokens"] > 0 and s["latency_ms"] >= 0 for s in steps)
    assert sum(s["input_tokens"] for s in steps) == tree["input_tokens"]
    kinds = [c["kind"] for c in tree["children"]]
    assert kinds[-2:] == ["limit", "finished"]


def test_show_unknown_run_fails_cleanly(store_url: str) -> None:
    result = CliRunner().invoke(app, ["runs", "show", "resp_nope", "--store", store_url])
    assert result.exit_code == 1
    assert "Run 'resp_nope' not found. (not_found)" in result.output


def test_admin_run_list(agent_server: ServerThread, two_runs: list[str]) -> None:
    with httpx.Client(base_url=agent_server.root_url, headers=auth_headers()) as http:
        listed = http.get("/admin/v1/runs", params={"agent": "desk", "limit": 1}).json()
        assert listed["object"] == "list" and len(listed["data"]) == 1
        assert listed["data"][0]["agent"] == "desk" and "spec" not in listed["data"][0]
        desk = http.get("/admin/v1/runs", params={"agent": "desk", "limit": 1000}).json()
        assert two_runs[0] in [r["id"] for r in desk["data"]]
        filtered = http.get("/admin/v1/runs", params={"status": "incomplete", "since": "1h"})
        assert two_runs[1] in [r["id"] for r in filtered.json()["data"]]
        for params, param in (({"limit": "0"}, "limit"), ({"since": "yesterday"}, "since")):
            bad = http.get("/admin/v1/runs", params=params)
            assert bad.status_code == 400
            assert bad.json()["error"]["param"] == param
            assert bad.json()["error"]["type"] == "invalid_request_error"


def test_admin_scorecard(agent_server: ServerThread, two_runs: list[str]) -> None:
    with httpx.Client(base_url=agent_server.root_url, headers=auth_headers()) as http:
        card = http.get("/admin/v1/scorecard", params={"since": "1h", "agent": "repeater"}).json()
        assert card["until"] - card["since"] == 3600
        (total, repeater) = card["groups"]
        assert (total["agent"], repeater["agent"]) == ("*", "repeater")
        assert repeater["current"]["runs"] >= 1
        assert repeater["current"]["failures"]["limit_hit"] == repeater["current"]["runs"]
        bad = http.get("/admin/v1/scorecard", params={"since": "forever"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "since"
