"""The tool gateway and its adapters (DESIGN §4).

``base.py`` is the contract (calls, results, failures, the adapter and gateway
interfaces); ``gateway.py`` composes the protections, one wrapper per module; the
adapters are ``python.py``, ``http.py``, ``mcp.py`` and ``openapi.py``; ``factory.py``
builds a gateway from a bundle's contracts.
"""

from pilothouse.runtime.tools.base import (
    RunToolBudget,
    ToolAdapter,
    ToolCall,
    ToolFailure,
    ToolGateway,
    ToolResult,
)
from pilothouse.runtime.tools.breaker import BreakerPolicy, CircuitBreaker
from pilothouse.runtime.tools.clock import Clock, ManualClock, SystemClock
from pilothouse.runtime.tools.factory import ToolSetupError, build_adapters, build_gateway
from pilothouse.runtime.tools.gateway import DefaultToolGateway
from pilothouse.runtime.tools.python import ToolContext
from pilothouse.runtime.tools.retry import RetryPolicy

__all__ = [
    "BreakerPolicy",
    "CircuitBreaker",
    "Clock",
    "DefaultToolGateway",
    "ManualClock",
    "RetryPolicy",
    "RunToolBudget",
    "SystemClock",
    "ToolAdapter",
    "ToolCall",
    "ToolContext",
    "ToolFailure",
    "ToolGateway",
    "ToolResult",
    "ToolSetupError",
    "build_adapters",
    "build_gateway",
]
