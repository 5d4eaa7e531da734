"""Principals, resources, context and the release's entity graph, as Cedar sees them.

Everything a decision looks at is built here from plain data, so no caller writes
Cedar JSON by hand:

* :class:`Principal` — the API key making the request (key id, tenant, roles, scopes).
* :class:`Resource` — a reference to what is acted on (an agent, tool, model,
  environment or tenant), by type and name.
* :class:`Context` — the facts of this one request (tool arguments, environment, cost
  so far, data classes, whether an approval is held).
* :class:`Catalog` — the release's entities: its tenant, agents, tools (whose Cedar
  parents are the agents that list them), models and environments. It is built once per
  release (:meth:`Catalog.from_bundle`) and becomes the engine's shared entity graph.

Entity ids are names: ``Pilothouse::Agent::"support-desk"``, ``Pilothouse::Tool::"refund"``,
``Pilothouse::Principal::"<key id>"``. One catalog therefore describes one tenant's view of
one release; a tool listed by several agents is one entity with several parents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pilothouse.control.bundle import Bundle
from pilothouse.control.policy.schema import EntityType
from pilothouse.control.policy.values import to_cedar_record
from pilothouse.control.principal import Principal
from pilothouse.control.tool_contract import ToolContract


def uid(entity_type: EntityType, entity_id: str) -> dict[str, str]:
    """An entity uid in Cedar JSON (``{"type", "id"}``)."""
    return {"type": entity_type.value, "id": entity_id}


def _ref(entity_type: EntityType, entity_id: str) -> dict[str, Any]:
    """An entity reference as an attribute or context value."""
    return {"__entity": uid(entity_type, entity_id)}


def _entity(
    entity_type: EntityType,
    entity_id: str,
    attrs: Mapping[str, Any],
    parents: Iterable[tuple[EntityType, str]] = (),
) -> dict[str, Any]:
    return {
        "uid": uid(entity_type, entity_id),
        "attrs": dict(attrs),
        "parents": [uid(kind, name) for kind, name in parents],
    }


def principal_entity(principal: Principal) -> dict[str, Any]:
    """The principal entity; its parent is its tenant."""
    return _entity(
        EntityType.PRINCIPAL,
        principal.key_id,
        {
            "tenant": _ref(EntityType.TENANT, principal.tenant),
            "roles": sorted(principal.roles),
            "scopes": principal.scopes.to_cedar(),
        },
        [(EntityType.TENANT, principal.tenant)],
    )


@dataclass(frozen=True, slots=True)
class Resource:
    """A reference to the entity an action is on."""

    type: EntityType
    id: str

    @classmethod
    def agent(cls, name: str) -> Resource:
        """An agent of the release."""
        return cls(EntityType.AGENT, name)

    @classmethod
    def tool(cls, name: str) -> Resource:
        """A governed tool."""
        return cls(EntityType.TOOL, name)

    @classmethod
    def model(cls, name: str) -> Resource:
        """An upstream model."""
        return cls(EntityType.MODEL, name)

    @classmethod
    def environment(cls, name: str) -> Resource:
        """An environment (the target of ``promote``)."""
        return cls(EntityType.ENVIRONMENT, name)

    @classmethod
    def tenant(cls, name: str) -> Resource:
        """A tenant's release catalog (the target of ``publish``)."""
        return cls(EntityType.TENANT, name)

    def to_cedar(self) -> dict[str, str]:
        """The resource uid."""
        return uid(self.type, self.id)

    def __str__(self) -> str:
        return f'{self.type.value}::"{self.id}"'


@dataclass(frozen=True, slots=True)
class Context:
    """The facts of one request that policies may look at.

    Attributes:
        environment: The environment serving the request (``prod``).
        agent: The agent whose run makes the request; required for ``call_tool`` and
            ``approve``, and for ``invoke_agent`` the engine fills in the resource.
        arguments: The tool arguments as parsed JSON (see :mod:`.values` for how they
            become a Cedar record and what cannot).
        approved: True only when the runtime holds an unexpired, unused approval bound to
            exactly this call (tool, arguments digest, release).
        cost_usd_micros: The run's cost so far, in millionths of a US dollar.
        tool_call_count: Tool calls the run has made so far.
        data_classes: Data classes (``pii``, ``pci``, ...) that redaction found in the
            arguments.
    """

    environment: str = ""
    agent: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    approved: bool = False
    cost_usd_micros: int = 0
    tool_call_count: int = 0
    data_classes: frozenset[str] = frozenset()

    def to_cedar(self) -> dict[str, Any]:
        """The context record; raises :class:`~.values.UnrepresentableValue` when the
        arguments have no faithful Cedar form."""
        record: dict[str, Any] = {
            "environment": self.environment,
            "arguments": to_cedar_record(self.arguments),
            "approved": self.approved,
            "cost_usd_micros": self.cost_usd_micros,
            "tool_call_count": self.tool_call_count,
            "data_classes": sorted(self.data_classes),
        }
        if self.agent is not None:
            record["agent"] = _ref(EntityType.AGENT, self.agent)
        return record


@dataclass(frozen=True, slots=True)
class AgentEntity:
    """An agent and the tools it lists."""

    name: str
    tenant: str
    tools: tuple[str, ...] = ()
    version: str = "1"


@dataclass(frozen=True, slots=True)
class ToolEntity:
    """A governed tool as policies see it.

    Attributes:
        name: The tool's name.
        side_effect: Calling it changes something outside (its contract says so).
        egress: Calling it sends its arguments outside Pilothouse's trust boundary.
        data_classes: The data classes the tool is cleared to receive.
    """

    name: str
    side_effect: bool = False
    egress: bool = False
    data_classes: frozenset[str] = frozenset()

    @classmethod
    def from_contract(cls, contract: ToolContract) -> ToolEntity:
        """From a tool contract: its declared ``egress`` (else derived from the binding:
        an in-process Python callable stays inside, an HTTP, OpenAPI or MCP tool leaves)
        and its clearance, groups such as ``pii`` expanded into the classes the runtime's
        classification reports (:mod:`pilothouse.control.data_classes`)."""
        return cls(
            name=contract.name,
            side_effect=contract.side_effect,
            egress=contract.has_egress,
            data_classes=contract.cleared_data_classes,
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """The entities of one tenant's view of one release."""

    tenant: str
    agents: tuple[AgentEntity, ...] = ()
    tools: tuple[ToolEntity, ...] = ()
    models: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()

    @classmethod
    def from_bundle(cls, bundle: Bundle, tenant: str, environments: Iterable[str] = ()) -> Catalog:
        """The catalog of a loaded bundle: its agents with their tools, its tools, and
        the models the agents route to (primary and fallbacks)."""
        agents = tuple(
            AgentEntity(name=a.name, tenant=tenant, tools=tuple(a.tools), version=a.version)
            for a in bundle.agents.values()
        )
        models = sorted({m for a in bundle.agents.values() for m in (a.model, *a.fallbacks)})
        return cls(
            tenant=tenant,
            agents=agents,
            tools=tuple(ToolEntity.from_contract(t) for t in bundle.tools.values()),
            models=tuple(models),
            environments=tuple(environments),
        )

    def to_cedar(self) -> list[dict[str, Any]]:
        """All entities in Cedar JSON, tools parented by the agents that list them."""
        listed_by: dict[str, list[tuple[EntityType, str]]] = {}
        for agent in self.agents:
            for tool in agent.tools:
                listed_by.setdefault(tool, []).append((EntityType.AGENT, agent.name))
        tenants = {self.tenant, *(agent.tenant for agent in self.agents)}
        entities = [_entity(EntityType.TENANT, tenant, {}) for tenant in sorted(tenants)]
        entities += [self._agent(agent) for agent in self.agents]
        entities += [self._tool(tool, listed_by.get(tool.name, [])) for tool in self.tools]
        entities += [_entity(EntityType.MODEL, name, {"name": name}) for name in self.models]
        entities += [
            _entity(
                EntityType.ENVIRONMENT,
                name,
                {"tenant": _ref(EntityType.TENANT, self.tenant), "name": name},
                [(EntityType.TENANT, self.tenant)],
            )
            for name in self.environments
        ]
        return entities

    @staticmethod
    def _agent(agent: AgentEntity) -> dict[str, Any]:
        return _entity(
            EntityType.AGENT,
            agent.name,
            {
                "tenant": _ref(EntityType.TENANT, agent.tenant),
                "name": agent.name,
                "version": agent.version,
            },
            [(EntityType.TENANT, agent.tenant)],
        )

    @staticmethod
    def _tool(tool: ToolEntity, parents: list[tuple[EntityType, str]]) -> dict[str, Any]:
        return _entity(
            EntityType.TOOL,
            tool.name,
            {
                "name": tool.name,
                "side_effect": tool.side_effect,
                "egress": tool.egress,
                "data_classes": sorted(tool.data_classes),
            },
            parents,
        )
