"""Which budgets a request answers to, and the meter around the model it will call.

A request pays from its API key's limits (carried by the principal, read with the key at
authentication: no extra query) and from its tenant's (the tenant's own row, or the
process defaults; re-read in the background once half ``refresh_s`` old and never used
once ``refresh_s`` old (:class:`~pilothouse.runtime.refreshed.Refreshed`), so a change
through the admin API reaches other replicas within that time and this one at once, and
while requests keep coming none waits for a re-read). A request whose key and tenant have no
limits costs nothing here beyond that: no wrapper.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.pricing import ModelPrice
from pilothouse.control.principal import Principal
from pilothouse.errors import InvalidRequest
from pilothouse.runtime.agent.executor import BoundModel
from pilothouse.runtime.agent.runner import AgentRunner
from pilothouse.runtime.agent.source import AgentSource
from pilothouse.runtime.budgets.ledger import Ledger, Payer
from pilothouse.runtime.budgets.metered import MeteredProvider
from pilothouse.runtime.providers.router import Resolved
from pilothouse.runtime.refreshed import Refreshed
from pilothouse.runtime.turn import Turn
from pilothouse.storage.budgets import BudgetStore, TenantLimits

_MAX_CACHED_TENANTS = 10_000


class BudgetGuard:
    """Finds a principal's budgets, counts its requests and meters its model calls.

    Args:
        store: The budget counters and tenant limits.
        agents: Where prices come from for plain model requests (the served bundle's
            ``pricing.yaml``); agent runs use their own release's prices.
        defaults: Limits for tenants that have none of their own.
        refresh_s: How long a tenant's limits are cached in this process.
        clock: Wall-clock seconds for the windows.
        refused: Told of each refusal (payer kind, window): see :class:`Ledger`.
        usage: Told how much of each limit is used: see :class:`Ledger`.
    """

    def __init__(
        self,
        store: BudgetStore,
        agents: AgentSource | None = None,
        defaults: BudgetLimits | None = None,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        refused: Callable[[str, str], None] | None = None,
        usage: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        self.store = store
        self.agents = agents
        self.defaults = defaults or BudgetLimits()
        self.refresh_s = refresh_s
        self.ledger = Ledger(store, clock, refused, usage)
        self._tenants: dict[str, Refreshed[BudgetLimits]] = {}

    async def payers(self, principal: Principal | None) -> list[Payer]:
        """The key and the tenant, where they have limits."""
        if principal is None:
            return []
        found: list[Payer] = []
        if principal.limits is not None and not principal.limits.empty:
            found.append(Payer("key", principal.key_id, principal.limits))
        tenant = await self.tenant_limits(principal.tenant)
        if not tenant.empty:
            found.append(Payer("tenant", principal.tenant, tenant))
        return found

    async def tenant_limits(self, tenant: str) -> BudgetLimits:
        """The tenant's limits in force (its own, else the defaults), kept fresh in the
        background (see the module docstring)."""
        limits = self._tenants.get(tenant)
        if limits is None:
            if len(self._tenants) >= _MAX_CACHED_TENANTS:
                self._tenants.clear()
            limits = Refreshed(
                lambda: self._read_limits(tenant),
                self.refresh_s,
                f"the budget limits of tenant {tenant!r}",
            )
            self._tenants[tenant] = limits
        return await limits.get()

    async def _read_limits(self, tenant: str) -> BudgetLimits:
        record = await self.store.tenant_limits(tenant)
        return record.limits if record is not None else self.defaults

    async def set_tenant_limits(self, record: TenantLimits) -> None:
        """Store a tenant's limits; this process applies them from the next request on."""
        await self.store.put_tenant_limits(record)
        self._tenants.pop(record.tenant, None)

    async def admit_request(self, principal: Principal | None) -> None:
        """Count a request against requests/min (raises 429 when over)."""
        payers = await self.payers(principal)
        if payers:
            await self.ledger.take_request(payers)

    async def meter(self, turn: Turn) -> None:
        """Put the meter around the model ``turn`` calls (each step's, for an agent)."""
        payers = [p for p in await self.payers(turn.context.principal) if p.limits.meters_calls]
        if not payers:
            return
        provider = turn.resolved.provider
        if isinstance(provider, AgentRunner):
            model = provider.model
            price = provider.meter.price_for(model.public_model, model.upstream_model)
            _require_price(price, payers, model.public_model)
            metered = MeteredProvider(model.provider, self.ledger, payers, price)
            provider.model = BoundModel(metered, model.upstream_model, model.public_model)
            return
        price = self._plain_price(turn)
        _require_price(price, payers, turn.model)
        metered = MeteredProvider(provider, self.ledger, payers, price)
        turn.resolved = Resolved(metered, turn.resolved.upstream_model)

    def _plain_price(self, turn: Turn) -> ModelPrice | None:
        if self.agents is None:
            return None
        served = self.agents.pick(turn.request, turn.request.conversation_id or turn.id)
        if served.runtime is None:
            return None
        pricing = served.runtime.pricing
        return pricing.price(turn.model) or pricing.price(turn.resolved.upstream_model)


def _require_price(price: ModelPrice | None, payers: list[Payer], model: str) -> None:
    """With a USD budget, a call that cannot be priced cannot be bounded: refused."""
    if price is not None:
        return
    spender = next((p for p in payers if p.limits.usd_per_day is not None), None)
    if spender is not None:
        raise InvalidRequest(
            f"Model '{model}' has no price in pricing.yaml, so the USD budget of the "
            f"{spender.label} could not be enforced.",
            param="model",
            code="model_price_unknown",
        )
