"""Which agent (or prompt) a request addresses.

Three ways, as DESIGN §3 lists them: ``model: "agent:<name>"`` (optionally ``@<version>``),
Foundry-style ``agent_reference: {name, version}`` in the body, and a reusable prompt
``prompt: {id, version, variables}``, which may name an agent or just supply instructions
(and a model) for a plain model call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilothouse.control.agent import AgentSpec, render_template
from pilothouse.control.bundle import Bundle
from pilothouse.errors import InvalidRequest, NotFound
from pilothouse.protocol.requests import CreateResponse

AGENT_PREFIX = "agent:"


@dataclass(frozen=True, slots=True)
class Target:
    """What a request runs: an agent, or a plain model with prompt instructions.

    Attributes:
        agent: The agent, or None for a prompt that names only a model.
        instructions: Instructions for every model step (None: the request's own).
        model: The model name to echo and route (``agent:<name>`` for agents).
    """

    agent: AgentSpec | None
    instructions: str | None
    model: str


class AgentDirectory:
    """Resolves requests against the bundle in force."""

    def __init__(self, bundle: Bundle | None, environments: frozenset[str] = frozenset()) -> None:
        self.bundle = bundle
        self.environments = environments

    def names(self) -> list[str]:
        """``agent:<name>`` for every agent, for ``GET /v1/models``."""
        if self.bundle is None:
            return []
        return sorted(AGENT_PREFIX + name for name in self.bundle.agents)

    def resolve(self, request: CreateResponse) -> Target | None:
        """The target of ``request``; None for a plain model request."""
        reference = request.extras.get("agent_reference")
        if request.model and request.model.startswith(AGENT_PREFIX):
            name, _, version = request.model[len(AGENT_PREFIX) :].partition("@")
            return self._agent(name, version or None, "model")
        if isinstance(reference, dict):
            ref_name = reference.get("name")
            if not isinstance(ref_name, str):
                raise InvalidRequest(
                    "agent_reference.name must be a string.",
                    param="agent_reference.name",
                    code="invalid_value",
                )
            ref_version = reference.get("version")
            return self._agent(
                ref_name, str(ref_version) if ref_version is not None else None, "agent_reference"
            )
        if request.prompt is not None:
            return self._prompt(request)
        return None

    def _agent(self, name: str, version: str | None, param: str) -> Target:
        agent = self.bundle.agents.get(name) if self.bundle else None
        if agent is None:
            raise NotFound(f"Agent '{name}' not found.", param=param, code="agent_not_found")
        if version in self.environments:
            version = None  # ``@prod`` names an environment, which the source has chosen
        if version is not None and version != agent.version:
            raise NotFound(
                f"Agent '{name}' has no version '{version}' (serving {agent.version}).",
                param=param,
                code="agent_version_not_found",
            )
        return Target(agent, agent.render_instructions(), AGENT_PREFIX + agent.name)

    def _prompt(self, request: CreateResponse) -> Target:
        prompt_ref: dict[str, Any] = request.prompt or {}
        prompt_id = prompt_ref.get("id")
        prompt = self.bundle.prompts.get(str(prompt_id)) if self.bundle else None
        if prompt is None:
            raise NotFound(
                f"Prompt '{prompt_id}' not found.", param="prompt.id", code="prompt_not_found"
            )
        version = prompt_ref.get("version")
        found = prompt.version(str(version) if version is not None else None)
        if found is None:
            raise NotFound(
                f"Prompt '{prompt_id}' has no version '{version}'.",
                param="prompt.version",
                code="prompt_version_not_found",
            )
        _, chosen = found
        variables = prompt_ref.get("variables") or {}
        if not isinstance(variables, dict):
            raise InvalidRequest(
                "prompt.variables must be an object.", param="prompt.variables", code="invalid_type"
            )
        instructions = render_template(chosen.instructions, variables)
        if chosen.agent is not None:
            target = self._agent(chosen.agent, None, "prompt.id")
            return Target(target.agent, instructions, target.model)
        model = chosen.model or request.model
        if not model:
            raise InvalidRequest(
                "The prompt names no model; pass 'model'.",
                param="model",
                code="missing_required_parameter",
            )
        return Target(None, instructions, model)
