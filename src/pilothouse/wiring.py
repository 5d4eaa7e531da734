"""The composition root: the one place that picks concrete stores and providers.

Everything else receives its collaborators; nothing reaches for a global. The API app,
the CLI and the tests all build their object graph through :func:`build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilothouse.control.bundle import load_bundle
from pilothouse.runtime.agent.directory import AgentDirectory
from pilothouse.runtime.agent.runner import AgentRuntime
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.conversations import ConversationService
from pilothouse.runtime.providers.factory import build_router
from pilothouse.runtime.providers.router import ModelRouter
from pilothouse.runtime.responses import ResponseService
from pilothouse.runtime.tools.base import ToolGateway
from pilothouse.settings import Settings
from pilothouse.storage.base import Store
from pilothouse.storage.sql.store import SQLStore


@dataclass(slots=True)
class Services:
    """The running object graph of one Pilothouse process."""

    settings: Settings
    store: Store
    router: ModelRouter
    responses: ResponseService
    conversations: ConversationService
    switches: SwitchBoard
    agent_runtime: AgentRuntime | None = None

    async def start(self) -> None:
        """Open the store (migrating it when needed)."""
        await self.store.start()

    async def close(self) -> None:
        """Stop running responses, then close providers and the store."""
        await self.responses.close()
        if self.agent_runtime is not None:
            await self.agent_runtime.gateway.aclose()
        await self.router.aclose()
        await self.store.close()


def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    router: ModelRouter | None = None,
    azure_credential: Any | None = None,
    gateway: ToolGateway | None = None,
) -> Services:
    """Build (without starting) everything a process needs.

    Args:
        settings: The process settings.
        store: A store to use instead of the one ``settings.store`` names.
        router: A routing table to use instead of the configured providers.
        azure_credential: An azure-identity credential for Entra ID auth (tests inject a
            fake; production uses ``DefaultAzureCredential``).
        gateway: A tool gateway to use instead of one built from the bundle's contracts.
    """
    if store is None:
        store = SQLStore(settings.store)
    if router is None:
        providers, routes = settings.resolved_providers()
        router = build_router(providers, routes, azure_credential)
    bundle = load_bundle(settings.bundle) if settings.bundle is not None else None
    journal = getattr(store, "journal", None)
    switches = SwitchBoard(journal, settings.kill_switch)
    agent_runtime = None
    if bundle is not None:
        if gateway is None:
            from pilothouse.runtime.tools.factory import build_gateway

            gateway = build_gateway(bundle.tools, bundle.root)
        agent_runtime = AgentRuntime(
            router, gateway, bundle.pricing, bundle.tools, journal, switches
        )
    return Services(
        settings=settings,
        store=store,
        router=router,
        responses=ResponseService(store, router, AgentDirectory(bundle), agent_runtime),
        conversations=ConversationService(store),
        switches=switches,
        agent_runtime=agent_runtime,
    )
