"""Reading a scorecard's runs from the store: the window and the one before it."""

from __future__ import annotations

import math
import re
import time

from pilothouse.errors import InvalidRequest
from pilothouse.observability.scorecard.compute import Scorecard, compute
from pilothouse.observability.scorecard.records import RunRecord, to_records
from pilothouse.storage.outcomes import OutcomeStore

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def window_end_now() -> float:
    """The end of a window that ends now, in whole seconds as runs' ``created_at`` are:
    the end of the current second, so that the runs of this very second are inside."""
    return float(math.ceil(time.time()))


def parse_duration(text: str, param: str = "since") -> float:
    """``7d``, ``12h``, ``30m``, ``90s`` or ``2w`` as seconds."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise InvalidRequest(
            f"'{text}' is not a duration such as 7d, 24h or 30m.", param=param, code="invalid_value"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


async def load_records(
    store: OutcomeStore, tenant: str, since: float, until: float, agent: str | None
) -> list[RunRecord]:
    """The finished runs of ``[since, until)`` as records, with their feedback."""
    runs = await store.finished_runs(tenant, since, until, agent)
    feedback = await store.window_feedback(tenant, since, until, agent)
    return to_records(runs, feedback)


async def load_scorecard(
    store: OutcomeStore, tenant: str, span_s: float, until: float, agent: str | None = None
) -> Scorecard:
    """The scorecard of the ``span_s`` seconds before ``until``, against the span before."""
    since = until - span_s
    current = await load_records(store, tenant, since, until, agent)
    previous = await load_records(store, tenant, since - span_s, since, agent)
    return compute(current, previous, since, until)
