"""Data boundaries at the tool gateway: no data of a class goes to an egress tool not
cleared for it.

:class:`DataFlowGateway` wraps a :class:`~pilothouse.runtime.tools.base.ToolGateway`.
Before a batch is dispatched, the arguments of each call to a tool with egress
(:attr:`~pilothouse.control.tool_contract.ToolContract.has_egress`) are classified
(:func:`~pilothouse.observability.redaction.boundary.classify_arguments`: emails, phone
numbers, cards, IBANs, API-key shapes, registered secrets). A call carrying a class
outside the tool's clearance (its contract's ``data_classes``, groups expanded) is not
sent: its result is a ``policy_denied`` error for the model, naming the classes but not
the values, and the executor journals it with the call like any tool result. Tools
without egress (in-process Python callables, unless their contract says otherwise) are
not classified at all, so the check costs nothing where it cannot matter.

This enforcement does not depend on the Cedar engine; the engine's baseline rule
``baseline.egress-of-uncleared-data`` states the same condition, with the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pilothouse.control.tool_contract import ToolContract
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall, ToolGateway, ToolResult

POLICY_ID = "baseline.egress-of-uncleared-data"
"""The policy a refusal names (the Cedar baseline rule that says the same)."""

Classifier = Callable[[Any], frozenset[str]]


class DataFlowGateway:
    """Refuses calls that would carry uncleared data out. See the module docstring.

    Args:
        inner: The gateway that runs the calls that may go.
        contracts: The governed tools, by name.
        classify: The data classes found in a call's arguments.
    """

    def __init__(
        self, inner: ToolGateway, contracts: Mapping[str, ToolContract], classify: Classifier
    ) -> None:
        self.inner = inner
        self._classify = classify
        self._egress = {name: c for name, c in contracts.items() if c.has_egress}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        """Run the calls that may go through ``inner``; refuse the others, in call order."""
        refused = {index: r for index, call in enumerate(calls) if (r := self._refusal(call))}
        if not refused:
            return await self.inner.execute(calls, budget)
        allowed = [call for index, call in enumerate(calls) if index not in refused]
        results = iter(await self.inner.execute(allowed, budget) if allowed else [])
        return [refused.get(index) or next(results) for index in range(len(calls))]

    async def aclose(self) -> None:
        """Close the inner gateway."""
        await self.inner.aclose()

    def _refusal(self, call: ToolCall) -> ToolResult | None:
        contract = self._egress.get(call.name)
        if contract is None:
            return None
        uncleared = self._classify(call.arguments) - contract.cleared_data_classes
        if not uncleared:
            return None
        classes = ", ".join(sorted(uncleared))
        return ToolResult(
            call=call,
            error={
                "code": "policy_denied",
                "message": (
                    f"The arguments hold data of class {classes}, which the tool "
                    f"'{call.name}' is not cleared to receive; the call was not made."
                ),
                "policy": POLICY_ID,
            },
        )
