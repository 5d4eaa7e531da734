"""A rollback reaches two running server processes on one PostgreSQL within 5 s, with no
failed request while it happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.testing.server import free_port
from tests.cli.test_serve import _wait_ready
from tests.conftest import TEST_API_KEY, auth_headers
from tests.e2e.control.conftest import make_version

BIN = Path(sys.executable).parent
ENVIRONMENT = "multi"


def _cli(store: str, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--store", store])
    assert result.exit_code == 0, result.output
    return result.output


def _release_of(url: str) -> str:
    response = httpx.post(
        url + "/v1/responses",
        json={"model": f"agent:greeter@{ENVIRONMENT}", "input": "hi"},
        headers=auth_headers(),
        timeout=10,
    )
    response.raise_for_status()
    release: str = response.json()["pilothouse"]["release_id"]
    return release


@pytest.fixture
def two_servers(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[list[str], str, str]]:
    """Two ``pilothouse serve`` processes on one PostgreSQL, serving ``multi`` at v2."""
    environments = json.dumps(["dev", "staging", "prod", ENVIRONMENT])
    monkeypatch.setenv("PILOTHOUSE_ENVIRONMENTS", environments)
    monkeypatch.setenv("PILOTHOUSE_RELEASE_CACHE", str(tmp_path / "cli-cache"))
    v1 = _cli(
        postgres_url, "release", "publish", str(make_version(tmp_path, "1", "Greet.")), "-m", "v1"
    ).split()[-1]
    v2 = _cli(
        postgres_url,
        "release",
        "publish",
        str(make_version(tmp_path, "2", "Greet, then help.")),
        "-m",
        "v2",
    ).split()[-1]
    _cli(postgres_url, "release", "promote", v1, "--to", ENVIRONMENT)
    _cli(postgres_url, "release", "promote", v2, "--to", ENVIRONMENT)
    processes, urls = [], []
    for index in range(2):
        port = free_port()
        env = {
            **os.environ,
            "PILOTHOUSE_STORE": postgres_url,
            "PILOTHOUSE_ADMIN_KEY": TEST_API_KEY,
            "PILOTHOUSE_ENVIRONMENT": ENVIRONMENT,
            "PILOTHOUSE_RELEASE_CACHE": str(tmp_path / f"cache-{index}"),
            "PILOTHOUSE_RELEASE_POLL_S": "1",
        }
        env.pop("OPENAI_API_KEY", None)
        process = subprocess.Popen(
            [str(BIN / "pilothouse"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, process in zip(urls, processes, strict=True):
            _wait_ready(url, process)
        yield urls, v1, v2
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)
            assert process.stderr is not None
            process.stderr.close()


@pytest.mark.timeout(120)
def test_rollback_reaches_both_processes_within_5_s(
    two_servers: tuple[list[str], str, str], postgres_url: str
) -> None:
    urls, v1, v2 = two_servers
    assert [_release_of(url) for url in urls] == [v2, v2]
    failures: list[str] = []
    seen: dict[str, list[tuple[float, str]]] = {url: [] for url in urls}
    stop = threading.Event()

    def load(url: str) -> None:
        with httpx.Client(headers=auth_headers(), timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post(
                        url + "/v1/responses",
                        json={"model": f"agent:greeter@{ENVIRONMENT}", "input": "hi"},
                    )
                    if response.status_code != 200:
                        failures.append(f"{url}: {response.status_code} {response.text[:200]}")
                        continue
                    release = response.json()["pilothouse"]["release_id"]
                    seen[url].append((time.monotonic(), release))
                except httpx.HTTPError as exc:
                    failures.append(f"{url}: {exc!r}")

    threads = [threading.Thread(target=load, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    rolled_at = time.monotonic()
    _cli(postgres_url, "release", "rollback", ENVIRONMENT, "--reason", "incident")
    deadline = rolled_at + 10
    while time.monotonic() < deadline and not all(
        any(r == v1 for _, r in seen[url] if _ > rolled_at) for url in urls
    ):
        time.sleep(0.05)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(15)
    assert failures == []
    for url in urls:
        switched = min(t for t, release in seen[url] if release == v1 and t > rolled_at)
        assert switched - rolled_at <= 5.0, (url, switched - rolled_at)
        after = [release for t, release in seen[url] if t > switched]
        assert set(after) <= {v1}, "a process went back to the rolled-back release"
