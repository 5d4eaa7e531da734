"""``pilothouse bundle validate``: every problem with file, line, pointer and hint."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from pilothouse.cli.main import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "support-desk"


def test_valid_bundle(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "1 agent(s), 3 tool(s), 1 prompt(s)" in result.output


def test_every_problem_is_located(tmp_path: Path) -> None:
    bundle = tmp_path / "broken"
    shutil.copytree(EXAMPLE, bundle)
    agent = bundle / "agents" / "support-desk.yaml"
    agent.write_text(agent.read_text().replace("max_steps: 6", "max_steps: lots"))
    tool = bundle / "tools" / "search_kb.json"
    tool.write_text(tool.read_text().replace('"type": "http"', '"type": "carrier-pigeon"'))
    result = CliRunner().invoke(app, ["bundle", "validate", str(bundle)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    steps = next(line for line in lines if "/limits/max_steps" in line)
    line_number = next(
        n for n, text in enumerate(agent.read_text().splitlines(), 1) if "max_steps: lots" in text
    )
    assert steps.startswith(f"agents/support-desk.yaml:{line_number}:")
    assert any("tools/search_kb.json" in line and "/adapter" in line for line in lines)


def test_references_between_files_are_checked(tmp_path: Path) -> None:
    bundle = tmp_path / "dangling"
    shutil.copytree(EXAMPLE, bundle)
    agent = bundle / "agents" / "support-desk.yaml"
    agent.write_text(
        agent.read_text().replace("tools: [get_ticket_status,", "tools: [get_tickets,")
    )
    result = CliRunner().invoke(app, ["bundle", "validate", str(bundle)])
    assert result.exit_code == 1
    (problem,) = [line for line in result.output.splitlines() if "get_tickets" in line]
    assert problem.startswith("agents/support-desk.yaml:")
    assert "/tools/0" in problem and "hint: add tools/get_tickets.json" in problem
