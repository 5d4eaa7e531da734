"""The hook through which observability watches agent runs (DESIGN §2: the runtime
reports through hooks that ``observability`` attaches in ``wiring.py``).

At the start of a run the runner asks its :class:`RunObserver` to observe it; the
:class:`RunObservation` it gets back may hand the executor a wrapped model and tool
gateway (to trace and count their calls) and is told once how the run ended. The
default, :class:`Unobserved`, wraps nothing and does nothing, so a runtime built
without observability pays one method call per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pilothouse.control.pricing import ModelPrice
from pilothouse.runtime.agent.executor import BoundModel
from pilothouse.runtime.agent.state import RunState
from pilothouse.runtime.tools.base import ToolGateway


class RunObservation(Protocol):
    """One observed run: what the executor should call, and the run's end."""

    model: BoundModel
    gateway: ToolGateway

    def end(self, state: RunState, error: BaseException | None) -> None:
        """The run ended: normally (``error`` None; ``state.status`` says how), by an
        error, or cancelled (``asyncio.CancelledError``/``GeneratorExit``)."""
        ...


class RunObserver(Protocol):
    """Starts observing runs."""

    def observe(
        self, state: RunState, model: BoundModel, gateway: ToolGateway, price: ModelPrice | None
    ) -> RunObservation:
        """Observe the run whose starting ``state`` is given; may set correlation headers
        on ``state.headers`` (they go to every model and tool call of the run)."""
        ...


@dataclass(slots=True)
class _Bare:
    model: BoundModel
    gateway: ToolGateway

    def end(self, state: RunState, error: BaseException | None) -> None:
        """Nothing to report."""


class Unobserved:
    """The default observer: the run's model and gateway, unwrapped."""

    def observe(
        self, state: RunState, model: BoundModel, gateway: ToolGateway, price: ModelPrice | None
    ) -> RunObservation:
        """Nothing is observed."""
        return _Bare(model, gateway)
