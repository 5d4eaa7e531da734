"""Observability work done just after the request path instead of on it.

Spans and metrics describe what happened; nothing a caller waits for depends on them.
Yet turning a finished span into the OpenTelemetry SDK's exportable form, and updating
Prometheus series under their locks, cost about a sixth of an agent run's own time at
concurrency 1 with tracing on (``bench/RESULTS.md``, session 6). A :class:`Backlog` takes
that work as ``(function, arguments)`` and runs it in one batch: at the end of a request, at
the loop's next turn (:meth:`Backlog.flush_soon`), while the client reads the answer; and
:data:`DELAY_S` after the first pending piece when no request ends sooner (a long agent
run spends almost all of its life waiting for its model and its tools, so the batch lands
in a wait). What the caller sees is the time of recording a few values.

What keeps it safe:

* **Nothing is lost.** Pending work runs when its timer fires, when it grows past
  ``max_pending`` (under sustained load the batches stay bounded), before every read
  (``GET /metrics`` calls :meth:`Backlog.flush`) and at shutdown. Work added while no event
  loop runs (a synchronous caller) runs at once. Work added on another loop than the one
  holding the timer sets a timer there too, so a loop that stopped never keeps it.
* **Order is kept**: work runs in the order it was added, so a span's events and its end
  reach the exporter as they happened (timestamps are taken when recorded, not here).
* **Failures stay here**: an exception in one piece of work is logged and the rest runs;
  observability never fails a request.

One backlog serves one process's telemetry. Work may be added from any thread (a deque's
``append`` and ``popleft`` are atomic); it runs on the thread of the loop whose timer fires,
or the thread calling :meth:`Backlog.flush`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DELAY_S = 0.05
"""How long after the first pending piece of work the batch runs, when no request's end
has run it before (:meth:`Backlog.flush_soon`). A short run's work is then done once, at
its end, and no timer wakes the process in the middle of the run: a wake-up costs more
than its work here, and one in the middle of a burst would put the work on the request
path. Measured with ``bench/agent_ab.py`` at 10/5 ms, concurrency 1 (session 7): a delay
longer than a run instead of a millisecond, own p50 1.5-2% lower. Long runs (a model call
takes seconds) still show their spans and metrics within a twentieth of a second."""


class Backlog:
    """Deferred observability work. See the module docstring.

    Args:
        delay_s: How long after the first pending piece of work the batch runs.
        max_pending: Pending pieces beyond which the work runs at once.
    """

    def __init__(self, delay_s: float = DELAY_S, max_pending: int = 4096) -> None:
        self.delay_s = delay_s
        self.max_pending = max_pending
        self._pending: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._timer_thread: int | None = None
        self._soon = False  # the pending timer is flush_soon's (due at the next turn)

    def add(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work(*args)`` soon, off the caller's path."""
        self._pending.append((work, args))
        if len(self._pending) > self.max_pending:
            self.flush()
            return
        timer_loop = self._timer_loop
        if (
            timer_loop is not None
            and self._timer_thread == threading.get_ident()
            and timer_loop.is_running()
        ):
            return  # this thread's running loop holds the timer (asked without a getpid)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no loop to defer to: a synchronous caller
            return
        self._schedule(loop, self.delay_s)

    def flush_soon(self) -> None:
        """Run the pending work at the event loop's next turn rather than after the delay:
        for callers that have just answered, whose client takes longer to come back than
        the work takes (the end of a request; see the ingress observer)."""
        if not self._pending or self._soon:
            return  # nothing to do, or already due at the next turn
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._cancel_timer()
        self._schedule(loop, 0)
        self._soon = True

    def flush(self) -> None:
        """Run every pending piece of work now, in order."""
        self._cancel_timer()
        pending = self._pending
        while pending:
            try:
                work, args = pending.popleft()
            except IndexError:  # another thread took the last one
                return
            try:
                work(*args)
            except Exception:
                log.exception("deferred observability work failed: %r", work)

    def __len__(self) -> int:
        return len(self._pending)

    def _schedule(self, loop: asyncio.AbstractEventLoop, delay_s: float) -> None:
        """Set the timer that runs the pending work, on ``loop`` (this thread's)."""
        self._timer_loop = loop
        self._timer_thread = threading.get_ident()
        self._timer = loop.call_later(delay_s, self._fire)

    def _fire(self) -> None:
        self._timer = None  # it has fired: nothing to cancel
        self.flush()

    def _cancel_timer(self) -> None:
        """Forget the timer; cancel it when it belongs to this thread's running loop (a
        timer of another loop is left to fire, and finds nothing to do)."""
        timer, loop = self._timer, self._timer_loop
        self._timer = self._timer_loop = None
        self._soon = False
        if timer is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            timer.cancel()
