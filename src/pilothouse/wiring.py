"""The composition root: the one place that picks concrete stores and providers.

Everything else receives its collaborators; nothing reaches for a global. The API app,
the CLI and the tests all build their object graph through :func:`build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.bundle import Bundle, load_bundle
from pilothouse.control.environments import Environments
from pilothouse.control.keys import KeyService
from pilothouse.control.releases import Releases
from pilothouse.runtime.agent.runner import AgentRuntime
from pilothouse.runtime.agent.source import AgentSource, BundleSource, ReleaseSource
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.budgets.guard import BudgetGuard
from pilothouse.runtime.conversations import ConversationService
from pilothouse.runtime.providers.factory import build_router
from pilothouse.runtime.providers.router import ModelRouter
from pilothouse.runtime.responses import ResponseService
from pilothouse.runtime.tools.base import ToolGateway
from pilothouse.settings import Settings
from pilothouse.storage.base import JournalStore, KeyStore, ReleaseStore, Store
from pilothouse.storage.budgets import BudgetStore
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
    agents: AgentSource
    journal: JournalStore | None = None
    releases: Releases | None = None
    environments: Environments | None = None
    keys: KeyService | None = None
    budgets: BudgetGuard | None = None

    async def start(self) -> None:
        """Open the store (migrating it when needed), then load what agents serve."""
        await self.store.start()
        await self.agents.start()

    async def close(self) -> None:
        """Stop running responses, then close agents' tools, providers and the store."""
        await self.responses.close()
        await self.agents.close()
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

    Agents come from ``settings.bundle`` when it is set (a directory, for development);
    otherwise from the releases the environments point at (the control plane).

    Args:
        settings: The process settings.
        store: A store to use instead of the one ``settings.store`` names.
        router: A routing table to use instead of the configured providers.
        azure_credential: An azure-identity credential for Entra ID auth (tests inject a
            fake; production uses ``DefaultAzureCredential``). The caller keeps and closes
            a credential it passes.
        gateway: A tool gateway to use instead of one built from the bundle's contracts.
    """
    if store is None:
        store = SQLStore(settings.store)
    if router is None:
        providers, routes = settings.resolved_providers()
        router = build_router(providers, routes, azure_credential)
    journal: JournalStore | None = getattr(store, "journal", None)
    release_store: ReleaseStore | None = getattr(store, "releases", None)
    switches = SwitchBoard(journal, settings.kill_switch)

    def make_runtime(
        bundle: Bundle, release_id: str | None, environment: str | None
    ) -> AgentRuntime:
        # Imported when agents are served: plain model traffic never loads the tool stack.
        from pilothouse.runtime.tools.factory import build_gateway

        tools = gateway if gateway is not None else build_gateway(bundle.tools, bundle.root)
        return AgentRuntime(
            router, tools, bundle.pricing, bundle.tools, journal, switches, release_id, environment
        )

    releases = environments = None
    agents: AgentSource
    if release_store is not None:
        releases = Releases(release_store, settings.release_cache)
        environments = Environments(release_store, releases, tuple(settings.environments))
    if settings.bundle is not None:
        bundle = load_bundle(settings.bundle)
        agents = BundleSource(bundle, make_runtime(bundle, None, None))
    elif releases is not None:
        agents = ReleaseSource(
            releases,
            tuple(settings.environments),
            settings.environment,
            make_runtime,
            settings.release_poll_s,
        )
    else:
        agents = BundleSource(None, None)
    key_store: KeyStore | None = getattr(store, "keys", None)
    keys = KeyService(
        key_store,
        pepper=_secret(settings.key_pepper),
        admin_key=_secret(settings.admin_key),
        admin_tenant=settings.admin_tenant,
    )
    budgets = _budgets(settings, getattr(store, "budgets", None), agents)
    return Services(
        settings=settings,
        store=store,
        router=router,
        responses=ResponseService(store, router, agents, journal, budgets),
        conversations=ConversationService(store),
        switches=switches,
        agents=agents,
        journal=journal,
        releases=releases,
        environments=environments,
        keys=keys,
        budgets=budgets,
    )


def _budgets(
    settings: Settings, store: BudgetStore | None, agents: AgentSource
) -> BudgetGuard | None:
    if store is None:
        return None
    defaults = BudgetLimits.parse(settings.default_tenant_limits, "default_tenant_limits")
    return BudgetGuard(store, agents, defaults, settings.budget_refresh_s)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
