"""``pilothouse serve`` as a real process: flags, environment settings and several workers
sharing one store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from pilothouse.testing.server import free_port
from tests.conftest import TEST_API_KEY

BIN = Path(sys.executable).parent


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server never became ready")


@pytest.fixture
def serve(store_url: str) -> Iterator[str]:
    """``pilothouse serve --workers 2`` on a free port, store from the environment."""
    port = free_port()
    env = {
        **os.environ,
        "PILOTHOUSE_STORE": store_url,
        "PILOTHOUSE_LOG_LEVEL": "warning",
        "PILOTHOUSE_ADMIN_KEY": TEST_API_KEY,
    }
    env.pop("OPENAI_API_KEY", None)
    process = subprocess.Popen(
        [str(BIN / "pilothouse"), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(20)
        assert process.stderr is not None and process.stdout is not None
        process.stderr.close()
        process.stdout.close()


@pytest.mark.timeout(120)
def test_workers_share_one_store(serve: str) -> None:
    with openai.OpenAI(base_url=serve + "/v1", api_key=TEST_API_KEY, max_retries=0) as client:
        created = [client.responses.create(model="m", input=f"n{i}") for i in range(12)]
        # New connections are spread over both workers; each must see every response.
        for response in created:
            with openai.OpenAI(
                base_url=serve + "/v1", api_key=TEST_API_KEY, max_retries=0
            ) as fresh:
                assert fresh.responses.retrieve(response.id).output_text == response.output_text


def test_python_dash_m_and_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pilothouse", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for flag in ("--host", "--port", "--store", "--bundle", "--workers"):
        assert flag in result.stdout
