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
from pilothouse.observability.redaction.boundary import DataBoundary
from pilothouse.observability.redaction.sources import provider_secrets, tool_secrets
from pilothouse.observability.telemetry import Telemetry, build_telemetry
from pilothouse.observability.wiring import (
    attempt_wrapper,
    observe_queue,
    observed_router,
    traced_runs,
)
from pilothouse.runtime.agent.authorization import policy_parts, with_policy
from pilothouse.runtime.agent.runner import AgentRuntime
from pilothouse.runtime.agent.source import AgentSource, BundleSource, ReleaseSource
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.approvals import ApprovalService
from pilothouse.runtime.budgets.guard import BudgetGuard
from pilothouse.runtime.conversations import ConversationService
from pilothouse.runtime.guardrails import ReleaseGuardrails
from pilothouse.runtime.providers.factory import build_router
from pilothouse.runtime.providers.router import ModelRouter
from pilothouse.runtime.responses import ResponseService
from pilothouse.runtime.tools.base import ToolGateway
from pilothouse.settings import Settings
from pilothouse.storage.base import JournalStore, KeyStore, ReleaseStore, Store
from pilothouse.storage.budgets import BudgetStore
from pilothouse.storage.outcomes import OutcomeStore
from pilothouse.storage.redacting import RedactingStore
from pilothouse.storage.sealed import SealedApprovalStore, load_data_key
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
    telemetry: Telemetry
    journal: JournalStore | None = None
    releases: Releases | None = None
    environments: Environments | None = None
    keys: KeyService | None = None
    outcomes: OutcomeStore | None = None
    boundary: DataBoundary | None = None
    approvals: ApprovalService | None = None
    budgets: BudgetGuard | None = None

    async def start(self) -> None:
        """Open the store (migrating it when needed), then load what agents serve; from
        then on, the handlers of our logs redact."""
        await self.store.start()
        await self.agents.start()
        if self.boundary is not None:
            self.boundary.install_log_filter()

    async def close(self) -> None:
        """Stop running responses, then close agents' tools, providers and the store."""
        await self.responses.close()
        await self.agents.close()
        await self.router.aclose()
        await self.store.close()
        if self.boundary is not None:
            self.boundary.remove_log_filter()
        self.telemetry.shutdown()


def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    router: ModelRouter | None = None,
    azure_credential: Any | None = None,
    gateway: ToolGateway | None = None,
    telemetry: Telemetry | None = None,
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
        telemetry: Tracer and metrics to use instead of those the settings describe
            (tests pass one with an in-memory span exporter).
    """
    boundary = DataBoundary()
    providers, routes = settings.resolved_providers()
    boundary.register(provider_secrets(providers), "a model provider")
    store = RedactingStore(store if store is not None else SQLStore(settings.store), boundary)
    if router is None:
        router = build_router(providers, routes, azure_credential)
    telemetry = telemetry or build_telemetry(settings)
    telemetry.redact = boundary.json_value  # every resolved secret, release policy
    telemetry.live.watch_providers(router.providers)
    journal: JournalStore | None = getattr(store, "journal", None)
    release_store: ReleaseStore | None = getattr(store, "releases", None)
    switches = SwitchBoard(journal, settings.kill_switch)
    engines, approvals = policy_parts(_sealed_approvals(settings, store), journal)
    if approvals is not None:
        approvals.pending_changed = telemetry.metrics.set_pending_approvals

    def make_runtime(
        bundle: Bundle, release_id: str | None, environment: str | None
    ) -> AgentRuntime:
        # Imported when agents are served: plain model traffic never loads the tool stack.
        from pilothouse.runtime.tools.factory import build_gateway

        tools = gateway if gateway is not None else build_gateway(
            bundle.tools, bundle.root, wrap_adapter=attempt_wrapper(telemetry)
        )  # fmt: skip
        telemetry.live.watch_gateway(tools)
        guarded, guardrails = _data_boundaries(
            boundary, bundle, tools, environment in (None, settings.environment)
        )
        runtime = AgentRuntime(
            router,
            guarded,
            bundle.pricing,
            bundle.tools,
            journal,
            switches,
            release_id,
            environment,
            guardrails,
            classify=lambda call: boundary.classify(call.arguments),
            observer=traced_runs(telemetry),
        )
        return with_policy(runtime, bundle, engines, approvals, telemetry.policy_decision)

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
    boundary.register(
        [
            v
            for v in (
                _secret(settings.admin_key),
                _secret(settings.key_pepper),
                _secret(settings.openai_api_key),  # set even when no provider uses it
            )
            if v
        ],
        "the key settings",
    )
    keys = KeyService(
        key_store,
        pepper=_secret(settings.key_pepper),
        admin_key=_secret(settings.admin_key),
        admin_tenant=settings.admin_tenant,
    )
    budgets = _budgets(settings, getattr(store, "budgets", None), agents, telemetry)
    return Services(
        settings=settings,
        store=store,
        router=router,
        responses=observe_queue(
            ResponseService(
                store,
                observed_router(router, telemetry),
                agents,
                journal,
                boundary.json_value,
                budgets,
            ),
            telemetry,
        ),
        conversations=ConversationService(store),
        switches=switches,
        agents=agents,
        telemetry=telemetry,
        journal=journal,
        releases=releases,
        environments=environments,
        keys=keys,
        outcomes=getattr(store, "outcomes", None),
        boundary=boundary,
        approvals=approvals,
        budgets=budgets,
    )


def _budgets(
    settings: Settings, store: BudgetStore | None, agents: AgentSource, telemetry: Telemetry
) -> BudgetGuard | None:
    if store is None:
        return None
    defaults = BudgetLimits.parse(settings.default_tenant_limits, "default_tenant_limits")
    return BudgetGuard(
        store,
        agents,
        defaults,
        settings.budget_refresh_s,
        refused=telemetry.metrics.budget_rejected,
        usage=telemetry.metrics.budget_usage,
    )


def _sealed_approvals(settings: Settings, store: Store) -> SealedApprovalStore | None:
    """The store's approvals with their arguments sealed under the data key (the one
    thing kept in clear by necessity: an approval must run exactly what was approved)."""
    inner = getattr(store, "approvals", None)
    if inner is None:
        return None
    return SealedApprovalStore(
        inner, lambda: load_data_key(_secret(settings.data_key), settings.data_key_file)
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _data_boundaries(
    boundary: DataBoundary, bundle: Bundle, gateway: ToolGateway, serves_default: bool
) -> tuple[ToolGateway, ReleaseGuardrails]:
    """A release's data boundaries: its tools' secrets registered, its redaction policy in
    force when it is what the process serves by default, its tools behind the data-flow
    check, and its content filters compiled."""
    from pilothouse.runtime.tools.data_flow import DataFlowGateway

    boundary.register(tool_secrets(bundle.tools.values()), "a tool binding")
    if serves_default:
        boundary.use_policy(bundle.redaction)
    own = {name: a.guardrails for name, a in bundle.agents.items() if a.guardrails is not None}
    guardrails = ReleaseGuardrails(bundle.guardrails, own)
    return DataFlowGateway(gateway, bundle.tools, boundary.classify), guardrails
