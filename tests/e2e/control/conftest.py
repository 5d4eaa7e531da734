"""Bundles in several versions, and a server that serves releases (no ``--bundle``)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from pilothouse.testing import FakeUpstream, ServerThread
from tests.conftest import auth_headers, server_settings

GREETER = Path(__file__).parents[2] / "fixtures" / "bundles" / "greeter"
ENVIRONMENTS = [
    "dev",
    "staging",
    "prod",
    "cli-test",
    "api-test",
    "canary-test",
    "gate-test",
    "inflight",
]


def make_version(root: Path, version: str, instructions: str) -> Path:
    """A copy of the greeter bundle at ``version`` with other instructions."""
    target = root / f"greeter-{version}"
    shutil.copytree(GREETER, target)
    agent = target / "agents" / "greeter.yaml"
    text = agent.read_text().replace('version: "1"', f'version: "{version}"')
    agent.write_text(text.replace("Greet the user warmly.", instructions))
    return target


@pytest.fixture
def versions(tmp_path: Path) -> dict[str, Path]:
    """Three bundle versions: v1, v2 (compatible), v3 (a breaking contract change)."""
    v1 = make_version(tmp_path, "1", "Greet the user warmly.")
    v2 = make_version(tmp_path, "2", "Greet the user warmly, then offer help.")
    v3 = make_version(tmp_path, "3", "Greet the user warmly.")
    contract = v3 / "tools" / "lookup.json"
    contract.write_text(
        contract.read_text().replace(
            '"required": ["ticket_id"]', '"required": ["ticket_id", "tenant"]'
        )
    )
    return {"v1": v1, "v2": v2, "v3": v3}


@pytest.fixture(scope="module")
def release_server(
    store_url: str, upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """A server in release mode, following environment pointers every 0.2 s."""
    tmp = tmp_path_factory.mktemp("releases")
    base = server_settings(store_url, upstream_server, tmp)
    settings = base.model_copy(
        update={
            "environments": ENVIRONMENTS,
            "release_cache": tmp / "cache",
            "release_poll_s": 0.2,
        }
    )
    thread = ServerThread(settings).start()
    yield thread
    thread.stop()


@pytest.fixture
def admin(release_server: ServerThread) -> Iterator[httpx.Client]:
    """Raw HTTP to the release server."""
    with httpx.Client(
        headers=auth_headers(), base_url=release_server.root_url, timeout=30
    ) as client:
        yield client


def wait_for(probe: Callable[[], Any], expected: Any, seconds: float = 5.0) -> float:
    """Poll ``probe`` until it returns ``expected``; returns how long that took."""
    started = time.monotonic()
    while (value := probe()) != expected:
        assert time.monotonic() - started < seconds, f"still {value!r}, wanted {expected!r}"
        time.sleep(0.05)
    return time.monotonic() - started
