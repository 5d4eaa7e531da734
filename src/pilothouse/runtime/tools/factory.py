"""Building the tool gateway of a release: one adapter per contract binding.

:func:`build_gateway` turns a bundle's contracts into a ready
:class:`~pilothouse.runtime.tools.gateway.DefaultToolGateway`. Adapters are built eagerly,
so everything that can be checked without calling a tool is checked now: Python targets
import, secret references resolve, OpenAPI documents and operations exist, schemas
compile. Every problem is collected and reported at once in a :class:`ToolSetupError`.
Nothing connects yet: HTTP sessions and MCP sessions open on first use.

Contracts bound to the same MCP server (same ``command`` or ``url``, ``env`` and
``headers``) share one :class:`~pilothouse.runtime.tools.mcp.McpConnection`, so a server
exposing ten tools runs as one subprocess, not ten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilothouse.control.agent import RetryBudget
from pilothouse.control.openapi_import import OpenApiImportError
from pilothouse.control.tool_contract import (
    HttpBinding,
    McpBinding,
    OpenApiBinding,
    PythonBinding,
    ToolContract,
)
from pilothouse.errors import InvalidRequest
from pilothouse.runtime.tools.base import ToolAdapter
from pilothouse.runtime.tools.breaker import BreakerPolicy
from pilothouse.runtime.tools.clock import Clock
from pilothouse.runtime.tools.gateway import DefaultToolGateway
from pilothouse.runtime.tools.http import HttpAdapter
from pilothouse.runtime.tools.openapi import OpenApiAdapter
from pilothouse.runtime.tools.python import PythonAdapter
from pilothouse.runtime.tools.retry import RetryPolicy

if TYPE_CHECKING:
    from pilothouse.runtime.tools.mcp import McpConnection


class ToolSetupError(InvalidRequest):
    """Some tools cannot be set up; ``problems`` maps each tool to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        listed = "; ".join(f"{name}: {problem}" for name, problem in sorted(problems.items()))
        super().__init__(f"Cannot set up tools: {listed}", code="invalid_tool_binding")
        self.problems = problems


def build_gateway(
    contracts: Mapping[str, ToolContract],
    bundle_root: Path,
    *,
    clock: Clock | None = None,
    retry_policy: RetryPolicy | None = None,
    retry_budget: RetryBudget | None = None,
    breaker_policy: BreakerPolicy | None = None,
    wrap_adapter: Callable[[ToolAdapter], ToolAdapter] | None = None,
) -> DefaultToolGateway:
    """The gateway for ``contracts`` (as loaded from the bundle at ``bundle_root``).

    ``wrap_adapter`` wraps each adapter innermost, where every attempt reaches the tool
    (observability puts attempts on spans there).

    Raises:
        ToolSetupError: Some bindings cannot be turned into adapters, or some schemas do
            not compile.
    """
    adapters = build_adapters(contracts, bundle_root)
    if wrap_adapter is not None:
        wrapped: dict[int, ToolAdapter] = {}  # an adapter shared by several tools stays shared
        adapters = {
            name: wrapped.setdefault(id(adapter), wrap_adapter(adapter))
            for name, adapter in adapters.items()
        }
    try:
        return DefaultToolGateway(
            contracts,
            adapters,
            clock=clock,
            retry_policy=retry_policy,
            retry_budget=retry_budget,
            breaker_policy=breaker_policy,
        )
    except ValueError as exc:
        raise ToolSetupError({"(schemas)": str(exc)}) from None


def build_adapters(
    contracts: Mapping[str, ToolContract], bundle_root: Path
) -> dict[str, ToolAdapter]:
    """One adapter per contract name (MCP tools of one server share a connection).

    Raises:
        ToolSetupError: Listing every binding that cannot be built, and why.
    """
    builder = _AdapterBuilder(bundle_root)
    adapters: dict[str, ToolAdapter] = {}
    problems: dict[str, str] = {}
    for name, contract in contracts.items():
        try:
            adapters[name] = builder.build(contract)
        except (InvalidRequest, OpenApiImportError, ValueError) as exc:
            problems[name] = getattr(exc, "message", None) or str(exc)
    if problems:
        raise ToolSetupError(problems)
    return adapters


class _AdapterBuilder:
    """Builds adapters, sharing MCP connections and parsed OpenAPI documents."""

    def __init__(self, bundle_root: Path) -> None:
        self._root = bundle_root
        self._connections: dict[str, McpConnection] = {}
        self._documents: dict[Path, dict[str, Any]] = {}

    def build(self, contract: ToolContract) -> ToolAdapter:
        binding = contract.adapter
        if isinstance(binding, PythonBinding):
            return PythonAdapter.from_binding(binding)
        if isinstance(binding, HttpBinding):
            return HttpAdapter(binding)
        if isinstance(binding, McpBinding):
            # Imported here: the MCP SDK takes most of a second to import, and most
            # releases (and every process that only needs ``base``) never use it.
            from pilothouse.runtime.tools.mcp import McpAdapter

            return McpAdapter(self._connection(binding), binding.tool or contract.name)
        if isinstance(binding, OpenApiBinding):
            return OpenApiAdapter.from_binding(binding, self._root, documents=self._documents)
        raise ValueError(f"unsupported adapter type {type(binding).__name__}")

    def _connection(self, binding: McpBinding) -> McpConnection:
        from pilothouse.runtime.tools.mcp import McpConnection

        key = binding.model_dump_json(include={"command", "url", "env", "headers"})
        if key not in self._connections:
            self._connections[key] = McpConnection(binding, cwd=self._root)
        return self._connections[key]
