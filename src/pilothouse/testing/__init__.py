"""Fakes shipped with Pilothouse, for its own tests and for yours.

* :class:`FakeUpstream` — a real HTTP server speaking the Responses (and Chat
  Completions) wire protocol, with latency, fault and usage controls.
* :class:`ScriptedProvider` — the offline, deterministic model.
* :class:`ServerThread` — a Pilothouse server on loopback in a background thread.
* :class:`FaultyToolServer` — an HTTP tool server with an idempotency ledger and
  injectable faults (timeouts, resets, statuses, slowness).
* :class:`RecordingToolGateway` — runs Python functions as tools and records the calls.
* :class:`HijackedModel` — a model that obeys instructions injected anywhere in its
  input (prompt-injection tests).
* :class:`ManualClock` — a clock that moves only when told (breakers, budgets).

Names are imported on first use, so that importing one fake (say, from a tool server
subprocess) does not load the whole application.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "FakeUpstream": "pilothouse.testing.fake_upstream",
    "Fault": "pilothouse.testing.fake_upstream",
    "RecordedRequest": "pilothouse.testing.fake_upstream",
    "ScriptedProvider": "pilothouse.runtime.providers.scripted",
    "ServerThread": "pilothouse.testing.server",
    "FaultyToolServer": "pilothouse.testing.tool_server",
    "ToolFault": "pilothouse.testing.tool_server",
    "ToolRequest": "pilothouse.testing.tool_server",
    "RecordingToolGateway": "pilothouse.testing.tools",
    "HijackedModel": "pilothouse.testing.hijacked",
    "ManualClock": "pilothouse.runtime.tools.clock",
}

__all__ = [
    "FakeUpstream",
    "Fault",
    "FaultyToolServer",
    "HijackedModel",
    "ManualClock",
    "RecordedRequest",
    "RecordingToolGateway",
    "ScriptedProvider",
    "ServerThread",
    "ToolFault",
    "ToolRequest",
]

if TYPE_CHECKING:
    from pilothouse.runtime.providers.scripted import ScriptedProvider
    from pilothouse.runtime.tools.clock import ManualClock
    from pilothouse.testing.fake_upstream import FakeUpstream, Fault, RecordedRequest
    from pilothouse.testing.hijacked import HijackedModel
    from pilothouse.testing.server import ServerThread
    from pilothouse.testing.tool_server import FaultyToolServer, ToolFault, ToolRequest
    from pilothouse.testing.tools import RecordingToolGateway


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pilothouse.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
