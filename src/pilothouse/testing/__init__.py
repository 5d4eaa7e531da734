"""Fakes shipped with Pilothouse, for its own tests and for yours.

* :class:`FakeUpstream` — a real HTTP server speaking the Responses (and Chat
  Completions) wire protocol, with latency, fault and usage controls.
* :class:`ScriptedProvider` — the offline, deterministic model.
* :class:`ServerThread` — a Pilothouse server on loopback in a background thread.
"""

from pilothouse.runtime.providers.scripted import ScriptedProvider
from pilothouse.testing.fake_upstream import FakeUpstream, Fault, RecordedRequest
from pilothouse.testing.server import ServerThread

__all__ = ["FakeUpstream", "Fault", "RecordedRequest", "ScriptedProvider", "ServerThread"]
