"""Headless Chromium over the DevTools protocol (aiohttp's WebSocket client), for tests.

Chromium's ``--enable-logging`` prints console messages without their level, so errors
cannot be told from logs that way; the DevTools protocol reports each message's type,
uncaught exceptions and browser log entries (failed loads, blocked requests) apart.
:func:`render` opens a page, waits for its load event, and returns every error it saw
and a PNG screenshot of the full page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium() -> str | None:
    """The Chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Rendered:
    """What a page did while loading."""

    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    screenshot: bytes = b""


def render(page: Path, width: int = 1280, timeout_s: float = 30.0) -> Rendered:
    """Load ``page`` (a file) in headless Chromium; collect errors and a screenshot."""
    return asyncio.run(_render(page.resolve().as_uri(), width, timeout_s))


async def _render(page_uri: str, width: int, timeout_s: float) -> Rendered:
    binary = chromium()
    assert binary is not None, "chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            url = await asyncio.wait_for(_endpoint(process), timeout_s)
            return await asyncio.wait_for(_session(url, page_uri, width), timeout_s)
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def _endpoint(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while True:
        line = (await process.stderr.readline()).decode(errors="replace")
        if not line:
            raise RuntimeError("chromium exited before its DevTools endpoint was up")
        found = _LISTENING.search(line)
        if found:
            return found.group(1)


class _Cdp:
    """A minimal DevTools client: commands with ids, events to a queue."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump(self) -> None:
        async for message in self.socket:
            data = message.json()
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            else:
                await self.events.put(data)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[number] = future
        body: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            body["sessionId"] = session
        await self.socket.send_json(body)
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result


async def _session(url: str, page_uri: str, width: int) -> Rendered:
    rendered = Rendered()
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as socket:
        cdp = _Cdp(socket)
        pump = asyncio.create_task(cdp.pump())
        try:
            target = await cdp.send("Target.createTarget", {"url": "about:blank"})
            attached = await cdp.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                await cdp.send(f"{domain}.enable", session=session)
            await cdp.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session,
            )
            await cdp.send("Page.navigate", {"url": page_uri}, session)
            await _until_loaded(cdp, rendered)
            shot = await cdp.send(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True},
                session,
            )
            rendered.screenshot = base64.b64decode(shot["data"])
            _drain(cdp, rendered)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    return rendered


async def _until_loaded(cdp: _Cdp, rendered: Rendered) -> None:
    while True:
        event = await cdp.events.get()
        _note(event, rendered)
        if event.get("method") == "Page.loadEventFired":
            return


def _drain(cdp: _Cdp, rendered: Rendered) -> None:
    while not cdp.events.empty():
        _note(cdp.events.get_nowait(), rendered)


def _note(event: dict[str, Any], rendered: Rendered) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled":
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
        rendered.messages.append(f"{params['type']}: {text}")
        if params["type"] in ("error", "assert"):
            rendered.errors.append(f"console.{params['type']}: {text}")
    elif method == "Runtime.exceptionThrown":
        rendered.errors.append(f"exception: {params['exceptionDetails'].get('text')}")
    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
        rendered.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
