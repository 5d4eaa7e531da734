"""Loading a bundle directory into typed objects: a pure function from files to data.

Layout (DESIGN §5)::

    agents/<name>.yaml      AgentSpec
    tools/<name>.json       ToolContract (JSON Schema + adapter binding)
    tools/<name>.openapi.yaml|json
                            OpenApiSource: operations of an OpenAPI document, each a
                            ToolContract named by its operationId
    prompts/<id>.yaml       reusable prompts: {versions: {"1": {instructions, model?}}}
    pricing.yaml            Pricing
    redaction.yaml          RedactionPolicy: how this release redacts secrets and PII
    guardrails.yaml         GuardrailsConfig: the release's content filters
    policies/*.cedar        Cedar policies (checked here, with file and line; enforced
                            by :mod:`pilothouse.control.policy` per release)

:func:`load_bundle` reads everything, collects every problem it finds (file, JSON pointer,
message, hint) rather than stopping at the first, and raises :class:`BundleError` if there
are any. Nothing here touches the network, the store or the runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pilothouse.control.agent import AgentSpec
from pilothouse.control.guardrails import GuardrailsConfig
from pilothouse.control.openapi_import import (
    OpenApiImportError,
    OpenApiSource,
    contracts_from_openapi,
    load_openapi_document,
)
from pilothouse.control.pricing import Pricing
from pilothouse.control.tool_contract import ToolContract
from pilothouse.errors import InvalidRequest
from pilothouse.observability.redaction.policy import RedactionPolicy

M = TypeVar("M", bound=BaseModel)

_OPENAPI_SOURCES = (".openapi.yaml", ".openapi.yml", ".openapi.json")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a bundle."""

    file: str
    pointer: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}{'#' + self.pointer if self.pointer else ''}"
        return f"{where}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


class BundleError(InvalidRequest):
    """A bundle that cannot be loaded; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = "; ".join(str(p) for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        super().__init__(f"Invalid bundle: {lines}{more}", code="invalid_bundle")
        self.problems = problems


class PromptVersion(BaseModel):
    """One version of a reusable prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instructions: str
    model: str | None = None
    agent: str | None = None


class Prompt(BaseModel):
    """A reusable prompt, addressed as ``prompt: {id, version, variables}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    versions: dict[str, PromptVersion] = Field(min_length=1)

    def version(self, version: str | None) -> tuple[str, PromptVersion] | None:
        """The requested version, or the highest one when ``version`` is None."""
        if version is None:
            key = max(self.versions, key=lambda v: (len(v), v))
            return key, self.versions[key]
        found = self.versions.get(version)
        return (version, found) if found is not None else None


@dataclass(frozen=True, slots=True)
class Bundle:
    """Everything a bundle declares."""

    root: Path
    agents: dict[str, AgentSpec] = field(default_factory=dict)
    tools: dict[str, ToolContract] = field(default_factory=dict)
    prompts: dict[str, Prompt] = field(default_factory=dict)
    pricing: Pricing = field(default_factory=Pricing)
    redaction: RedactionPolicy = field(default_factory=RedactionPolicy)
    guardrails: GuardrailsConfig = field(default_factory=GuardrailsConfig)


def load_bundle(root: Path) -> Bundle:
    """Read and check the bundle at ``root``; raise :class:`BundleError` on any problem."""
    problems: list[Problem] = []
    if not root.is_dir():
        raise BundleError([Problem(str(root), "", "not a directory", "pass the bundle's root")])
    agents = _load_all(root, "agents", ("*.yaml", "*.yml"), AgentSpec, problems)
    tools = _load_all(root, "tools", ("*.json",), ToolContract, problems, _OPENAPI_SOURCES)
    imported = _load_openapi_tools(root, problems)
    prompts = _load_all(root, "prompts", ("*.yaml", "*.yml"), Prompt, problems)
    pricing = _load_optional(root, "pricing.yaml", Pricing, problems)
    redaction = _load_optional(root, "redaction.yaml", RedactionPolicy, problems)
    guardrails = _load_optional(root, "guardrails.yaml", GuardrailsConfig, problems)
    _cross_check(root, agents, tools, imported, problems)
    _check_policies(root, problems)
    if problems:
        raise BundleError(problems)
    return Bundle(
        root=root,
        agents={a.name: a for a in agents.values()},
        tools={t.name: t for t in [*tools.values(), *imported.values()]},
        prompts={p.id: p for p in prompts.values()},
        pricing=pricing,
        redaction=redaction,
        guardrails=guardrails,
    )


def _load_optional(root: Path, name: str, model: type[M], problems: list[Problem]) -> M:
    """The bundle-level file ``name`` if present (an empty file counts as absent), else
    the model's defaults."""
    path = root / name
    if path.exists():
        loaded = _load_one(path, root, model, problems, allow_empty=True)
        if loaded is not None:
            return loaded
    return model()


def _load_all(
    root: Path,
    folder: str,
    patterns: tuple[str, ...],
    model: type[M],
    problems: list[Problem],
    exclude: tuple[str, ...] = (),
) -> dict[str, M]:
    found: dict[str, M] = {}
    directory = root / folder
    if not directory.is_dir():
        return found
    files = sorted({p for pattern in patterns for p in directory.glob(pattern)})
    files = [p for p in files if not p.name.endswith(exclude)] if exclude else files
    for path in files:
        loaded = _load_one(path, root, model, problems)
        if loaded is not None:
            found[str(path.relative_to(root))] = loaded
    return found


def _load_one(
    path: Path, root: Path, model: type[M], problems: list[Problem], allow_empty: bool = False
) -> M | None:
    relative = str(path.relative_to(root))
    try:
        text = path.read_text()
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        problems.append(Problem(relative, "", f"cannot be parsed: {exc}", "check the syntax"))
        return None
    if data is None and allow_empty:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            pointer = "/" + "/".join(str(part) for part in error["loc"])
            problems.append(Problem(relative, pointer, error["msg"], _hint(error["type"])))
        return None


def _load_openapi_tools(root: Path, problems: list[Problem]) -> dict[str, ToolContract]:
    """Contracts from every ``tools/*.openapi.{yaml,yml,json}``, keyed ``file#operationId``."""
    patterns = tuple(f"*{suffix}" for suffix in _OPENAPI_SOURCES)
    found: dict[str, ToolContract] = {}
    for relative, source in _load_all(root, "tools", patterns, OpenApiSource, problems).items():
        document_path = (root / source.openapi).resolve()
        if not document_path.is_relative_to(root.resolve()):
            problems.append(
                Problem(
                    relative,
                    "/openapi",
                    "the document is outside the bundle",
                    "keep OpenAPI documents inside the bundle",
                )
            )
            continue
        try:
            document = load_openapi_document(document_path)
            contracts = contracts_from_openapi(
                document,
                base_url=source.base_url,
                operations=source.operations,
                headers=source.headers,
                document_path=source.openapi,
                egress=source.egress,
                data_classes=source.data_classes,
            )
        except OpenApiImportError as exc:
            where = source.openapi if exc.pointer.startswith("/paths") else relative
            problems.append(
                Problem(
                    where, exc.pointer, exc.message, "check the document and the operations listed"
                )
            )
            continue
        for contract in contracts:
            found[f"{relative}#{contract.name}"] = contract
    return found


def _hint(error_type: str) -> str:
    return {
        "missing": "add the field",
        "extra_forbidden": "remove the field or check its spelling",
        "union_tag_invalid": "adapter.type must be python, http, mcp or openapi",
        "literal_error": "use one of the listed values",
    }.get(error_type, "")


def _cross_check(
    root: Path,
    agents: dict[str, AgentSpec],
    tools: dict[str, ToolContract],
    imported: dict[str, ToolContract],
    problems: list[Problem],
) -> None:
    """References between files: tools named by agents exist, names match file names,
    no two files define one tool name."""
    tool_names = {t.name for t in tools.values()}
    for path, tool in tools.items():
        if Path(path).stem != tool.name:
            problems.append(
                Problem(
                    path,
                    "/name",
                    f"name '{tool.name}' differs from the file name",
                    f"rename the file to {tool.name}.json",
                )
            )
    for key, tool in imported.items():
        if tool.name in tool_names:
            problems.append(
                Problem(
                    key.split("#")[0],
                    "/operations",
                    f"tool '{tool.name}' is defined more than once",
                    "list each operation once",
                )
            )
        tool_names.add(tool.name)
    seen: dict[str, str] = {}
    for path, agent in agents.items():
        if agent.name in seen:
            problems.append(
                Problem(
                    path,
                    "/name",
                    f"agent '{agent.name}' is also defined in {seen[agent.name]}",
                    "give each agent one file",
                )
            )
        seen[agent.name] = path
        for index, name in enumerate(agent.tools):
            if name not in tool_names:
                problems.append(
                    Problem(
                        path,
                        f"/tools/{index}",
                        f"unknown tool '{name}'",
                        f"add tools/{name}.json or remove it",
                    )
                )
        for limited in agent.limits.max_tool_calls_per_tool:
            if limited not in agent.tools:
                problems.append(
                    Problem(
                        path,
                        f"/limits/max_tool_calls_per_tool/{limited}",
                        f"'{limited}' is not one of the agent's tools",
                        "",
                    )
                )


def _check_policies(root: Path, problems: list[Problem]) -> None:
    """Policy files parse and fit the schema; each problem names its file and line.
    The engine is imported only for bundles that have policies (it costs about 1 s)."""
    folder = root / "policies"
    if not folder.is_dir() or not any(folder.glob("*.cedar")):
        return
    from pilothouse.control.policy.loader import PolicyLoadError, load_policies

    try:
        load_policies(root)
    except PolicyLoadError as exc:
        problems.extend(problem.to_problem() for problem in exc.problems)
