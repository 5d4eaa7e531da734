"""Where agents come from: one bundle directory, or the releases environments point at.

* :class:`BundleSource` — ``--bundle PATH``: the directory's agents, for development.
* :class:`ReleaseSource` — the control plane's environments: every ``poll_s`` it reads
  the environment pointers (one small query), loads releases it has not loaded yet, and
  swaps the map of what each environment serves. A running server therefore follows a
  promote or rollback within about ``poll_s`` seconds, in every process sharing the
  store, without a restart. Runs already in flight keep the release they started with:
  they hold their own :class:`AgentRuntime`.

A request picks its environment with ``agent:<name>@<environment>`` (else the process's
default), and within an environment running a canary, its release by a stable hash of
its conversation (the conversation id, or the first response of a
``previous_response_id`` chain), so a conversation stays on one release.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pilothouse.control.bundle import Bundle
from pilothouse.control.releases import Release, Releases
from pilothouse.errors import ServiceUnavailable
from pilothouse.protocol.requests import CreateResponse
from pilothouse.runtime.agent.directory import AGENT_PREFIX, AgentDirectory, Target
from pilothouse.runtime.agent.runner import AgentRuntime
from pilothouse.storage.base import EnvironmentState

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[Bundle, str | None, str | None], AgentRuntime]


@dataclass(frozen=True, slots=True)
class Served:
    """What serves one request: a bundle's directory and runtime, and where they come from."""

    directory: AgentDirectory
    runtime: AgentRuntime | None
    release_id: str | None = None
    environment: str | None = None


class AgentSource(Protocol):
    """Chooses what serves a request."""

    def pick(self, request: CreateResponse, sticky_key: str) -> Served:
        """What serves ``request``; ``sticky_key`` identifies its conversation."""
        ...

    async def runtime_for(self, release_id: str | None) -> AgentRuntime | None:
        """The runtime of a release (for resume and replay of its runs)."""
        ...

    def names(self) -> list[str]:
        """Agent model names served by default, for ``GET /v1/models``."""
        ...

    async def start(self) -> None:
        """Load what is served and begin following changes."""
        ...

    async def close(self) -> None:
        """Stop following changes and close every runtime's tools."""
        ...


class BundleSource:
    """One bundle directory serves every request."""

    def __init__(self, bundle: Bundle | None, runtime: AgentRuntime | None) -> None:
        self.served = Served(AgentDirectory(bundle), runtime)

    def pick(self, request: CreateResponse, sticky_key: str) -> Served:
        """Always the bundle."""
        return self.served

    async def runtime_for(self, release_id: str | None) -> AgentRuntime | None:
        """The bundle's runtime."""
        return self.served.runtime

    def names(self) -> list[str]:
        """The bundle's agents."""
        return self.served.directory.names()

    async def start(self) -> None:
        """Nothing to load."""

    async def close(self) -> None:
        """Close the bundle's tools."""
        if self.served.runtime is not None:
            await self.served.runtime.gateway.aclose()


class ReleaseSource:
    """Environments' releases, followed live. See the module docstring."""

    def __init__(
        self,
        releases: Releases,
        environments: tuple[str, ...],
        default_environment: str,
        make_runtime: RuntimeFactory,
        poll_s: float = 1.0,
    ) -> None:
        self.releases = releases
        self.environments = environments
        self.default_environment = default_environment
        self.make_runtime = make_runtime
        self.poll_s = poll_s
        self._loaded: dict[str, Served] = {}
        self._pointers: dict[str, EnvironmentState] = {}
        self._task: asyncio.Task[None] | None = None
        self._empty = Served(AgentDirectory(None, frozenset(environments)), None)

    def pick(self, request: CreateResponse, sticky_key: str) -> Served:
        """The release the request's environment serves (its canary for some keys)."""
        state = self._pointers.get(
            _environment(request, self.environments) or self.default_environment
        )
        if state is None or state.release_id is None:
            return self._empty
        release_id = state.release_id
        if state.canary_release_id and _bucket(sticky_key) < state.canary_percent:
            release_id = state.canary_release_id
        return self._loaded.get(release_id, self._empty)

    async def runtime_for(self, release_id: str | None) -> AgentRuntime | None:
        """A release's runtime, loading the release if no environment serves it now."""
        if not release_id:
            return None
        if release_id not in self._loaded:
            self._loaded[release_id] = self._load(await self.releases.get(release_id), None)
        return self._loaded[release_id].runtime

    def names(self) -> list[str]:
        """Agents of the default environment's release."""
        state = self._pointers.get(self.default_environment)
        served = self._loaded.get(state.release_id or "") if state else None
        return served.directory.names() if served else []

    async def start(self) -> None:
        """Load the current pointers, then poll for changes."""
        await self.refresh()
        self._task = asyncio.create_task(self._follow())

    async def refresh(self) -> None:
        """Read the pointers; load new releases; swap the map in one assignment."""
        states = {s.name: s for s in await self.releases.store.environments()}
        if states == self._pointers:
            return
        for state in states.values():
            for release_id in (state.release_id, state.canary_release_id):
                if release_id and release_id not in self._loaded:
                    await self._try_load(release_id, state.name)
        self._pointers = states

    async def _try_load(self, release_id: str, environment: str) -> None:
        """Load a release; one that cannot be served (say, a tool module this process
        cannot import) is logged and answered with 503s, and never stops the others."""
        try:
            self._loaded[release_id] = self._load(await self.releases.get(release_id), environment)
        except Exception as exc:
            log.exception("release %s cannot be served here", release_id)
            self._loaded[release_id] = Served(
                _Unavailable(release_id, str(exc)), None, release_id, environment
            )

    def _load(self, release: Release, environment: str | None) -> Served:
        bundle = self.releases.bundle(release)
        runtime = self.make_runtime(bundle, release.id, environment)
        return Served(
            AgentDirectory(bundle, frozenset(self.environments)), runtime, release.id, environment
        )

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.refresh()
            except Exception:  # a bad poll must not stop following; the next one retries
                log.exception("could not refresh environment pointers")

    async def close(self) -> None:
        """Stop polling; close every loaded release's tools."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for served in self._loaded.values():
            if served.runtime is not None:
                await served.runtime.gateway.aclose()


class _Unavailable(AgentDirectory):
    """Stands for a release this process could not load: every agent request is a 503."""

    def __init__(self, release_id: str, reason: str) -> None:
        super().__init__(None)
        self.release_id = release_id
        self.reason = reason

    def resolve(self, request: CreateResponse) -> Target | None:
        """Agent requests fail clearly; plain model requests are not this release's."""
        if request.model and request.model.startswith(AGENT_PREFIX):
            raise ServiceUnavailable(
                f"Release {self.release_id} cannot be served by this process: {self.reason}",
                code="release_unavailable",
                retry_after=5,
            )
        return None


def _environment(request: CreateResponse, environments: tuple[str, ...]) -> str | None:
    model = request.model or ""
    if model.startswith(AGENT_PREFIX) and "@" in model:
        suffix = model.rsplit("@", 1)[1]
        if suffix in environments:
            return suffix
    return None


def _bucket(key: str) -> int:
    """A stable 0 to 99 bucket for a conversation key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
