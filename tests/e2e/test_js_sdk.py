"""The official ``openai`` npm package against a live Pilothouse (``tests/e2e/js/smoke.mjs``).

The script creates responses (plain, ``stream: true`` and the ``responses.stream()``
helper), makes a function-call round trip with ``previous_response_id``, retrieves by id
and expects ``NotFoundError`` for an unknown id. It runs once per store.

Needs ``node`` and ``npm``; without them the test is skipped with the reason shown. The
pinned SDK is installed with ``npm ci`` into ``tests/e2e/js/node_modules`` the first time
(and again whenever ``package-lock.json`` changes): that one step reaches the npm registry,
from a subprocess, outside the loopback-only guard that applies to the test process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pilothouse.testing import ServerThread
from tests.conftest import TEST_API_KEY

JS_DIR = Path(__file__).parent / "js"
LOCKFILE = JS_DIR / "package-lock.json"
# npm writes this "hidden lockfile" on every install; it dates the installed tree.
INSTALLED = JS_DIR / "node_modules" / ".package-lock.json"
NPM_CI_TIMEOUT_S = 240
SMOKE_TIMEOUT_S = 120
CHECKS = {
    "create",
    "create_stream",
    "stream_helper",
    "function_call_round_trip",
    "retrieve",
    "retrieve_missing_404",
}


@dataclass(frozen=True, slots=True)
class NodeProject:
    """The smoke script's directory with its dependencies installed."""

    node: str
    directory: Path


def _output(result: subprocess.CompletedProcess[str] | subprocess.TimeoutExpired) -> str:
    def text(value: str | bytes | None) -> str:
        if isinstance(value, bytes):
            return value.decode(errors="replace")
        return value or ""

    return f"--- stdout ---\n{text(result.stdout)}\n--- stderr ---\n{text(result.stderr)}"


def _needs_install() -> bool:
    if not INSTALLED.exists():
        return True
    return LOCKFILE.stat().st_mtime > INSTALLED.stat().st_mtime


def _npm_ci(npm: str) -> None:
    command = [npm, "ci", "--no-audit", "--no-fund"]
    try:
        result = subprocess.run(
            command,
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`npm ci` took more than {NPM_CI_TIMEOUT_S} s\n{_output(exc)}")
    if result.returncode != 0:
        pytest.fail(f"`npm ci` failed with exit code {result.returncode}\n{_output(result)}")


@pytest.fixture(scope="module")
def node_project() -> NodeProject:
    """``node`` and the smoke script's directory, installing the pinned SDK when needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        pytest.skip(f"{missing} not found on PATH: the JavaScript SDK smoke test needs both")
    if _needs_install():
        _npm_ci(npm)
    return NodeProject(node=node, directory=JS_DIR)


def _loopback_env(base_url: str) -> dict[str, str]:
    env = dict(os.environ, PILOTHOUSE_BASE_URL=base_url, PILOTHOUSE_API_KEY=TEST_API_KEY)
    inherited = env.get("NO_PROXY") or env.get("no_proxy") or ""
    no_proxy = ",".join(filter(None, [inherited, "127.0.0.1", "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env


@pytest.mark.node
@pytest.mark.timeout(300)
def test_openai_js_sdk_smoke(node_project: NodeProject, server: ServerThread) -> None:
    try:
        result = subprocess.run(
            [node_project.node, "smoke.mjs"],
            cwd=node_project.directory,
            env=_loopback_env(server.base_url),
            capture_output=True,
            text=True,
            timeout=SMOKE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"smoke.mjs took more than {SMOKE_TIMEOUT_S} s\n{_output(exc)}")
    assert result.returncode == 0, f"smoke.mjs exited with {result.returncode}\n{_output(result)}"
    try:
        summary: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"smoke.mjs did not print a JSON summary\n{_output(result)}")
    assert set(summary["checks"]) == CHECKS, _output(result)
    failed = {name for name, check in summary["checks"].items() if not check["ok"]}
    assert not failed, f"failed checks: {sorted(failed)}\n{_output(result)}"
    assert summary["failed"] == 0, _output(result)
