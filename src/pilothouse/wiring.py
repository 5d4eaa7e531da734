"""The composition root: the one place that picks concrete stores and providers.

Everything else receives its collaborators; nothing reaches for a global. The API app,
the CLI and the tests all build their object graph through :func:`build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilothouse.runtime.conversations import ConversationService
from pilothouse.runtime.providers.factory import build_router
from pilothouse.runtime.providers.router import ModelRouter
from pilothouse.runtime.responses import ResponseService
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

    async def start(self) -> None:
        """Open the store (migrating it when needed)."""
        await self.store.start()

    async def close(self) -> None:
        """Stop running responses, then close providers and the store."""
        await self.responses.close()
        await self.router.aclose()
        await self.store.close()


def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    router: ModelRouter | None = None,
    azure_credential: Any | None = None,
) -> Services:
    """Build (without starting) everything a process needs.

    Args:
        settings: The process settings.
        store: A store to use instead of the one ``settings.store`` names.
        router: A routing table to use instead of the configured providers.
        azure_credential: An azure-identity credential for Entra ID auth (tests inject a
            fake; production uses ``DefaultAzureCredential``).
    """
    if store is None:
        store = SQLStore(settings.sqlalchemy_url)
    if router is None:
        providers, routes = settings.resolved_providers()
        router = build_router(providers, routes, azure_credential)
    return Services(
        settings=settings,
        store=store,
        router=router,
        responses=ResponseService(store, router),
        conversations=ConversationService(store),
    )
