"""Writing a run's journal: entries are buffered and flushed atomically at the points where
the executor must be durable before it acts (journal first).

The executor records as it goes and calls :meth:`RunJournal.flush` before each model call
and before each batch of tool calls, so one transaction carries the previous step's
results together with the next step's intent. The last entries go with
:meth:`RunJournal.finish`, which does not wait: what acts on them next is the response's
record, and the store's next write (that record) carries them in its own transaction —
one commit instead of two, and never a stored response before its run's end is durable.
A journal without a store (replay) records nothing.

Every entry is stamped with the run's :class:`~.events.EventContext` and folded into a
:class:`~.events.RunTally`, so that ``run.finished`` can summarise the run; payloads are
built by :mod:`.events`, which documents each kind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from pilothouse.runtime.agent import events
from pilothouse.runtime.agent.events import Event, EventContext, RunTally
from pilothouse.runtime.agent.state import RunState
from pilothouse.runtime.tools.base import ToolResult
from pilothouse.storage.base import JournalEntry, JournalStore, StoredRun

log = logging.getLogger(__name__)


class RunJournal:
    """The journal of one run."""

    def __init__(self, store: JournalStore | None, state: RunState) -> None:
        self.store = store
        self.state = state
        self._pending: list[JournalEntry] = []
        self._unborn: StoredRun | None = None
        self.tally = RunTally()
        self.closed = False
        self.context = EventContext(
            agent=state.agent.name,
            agent_version=state.agent.version,
            release_id=state.release_id,
            principal_id=state.principal_id,
            request_id=state.headers.get("x-request-id") or None,
        )

    def emit(self, event: Event) -> None:
        """Buffer one event (built by :mod:`.events`) for the current step."""
        self._append(event.kind, event.payload)

    def record(self, kind: str, **payload: Any) -> None:
        """Buffer one entry for the current step, stamped with the run's context."""
        self._append(kind, payload)

    def _append(self, kind: str, payload: dict[str, Any]) -> None:
        """The entry of ``kind``: ``payload`` is read, never kept (the entry holds the
        stamped copy)."""
        self.tally.observe(kind, payload)
        if self.store is None:
            return
        state = self.state
        self._pending.append(
            JournalEntry(
                state.run_id,
                state.next_seq(),
                kind,
                state.step,
                time.time(),
                self.context.stamp(payload),
            )
        )

    def attempts(self, position: int, result: ToolResult) -> None:
        """Record each attempt of a call that reached its tool (``tool.attempt``)."""
        log = result.attempt_log
        for index, attempt in enumerate(log):
            self.emit(
                events.tool_attempt(
                    position,
                    result.call.name,
                    attempt.number,
                    attempt.started_at,
                    attempt.latency_s,
                    attempt.error_type,
                    attempt.retryable,
                    retried=index + 1 < len(log),
                )
            )

    def seed(self, entries: list[JournalEntry]) -> None:
        """Fold a resumed run's earlier entries into the tally."""
        for entry in entries:
            self.tally.observe(entry.kind, entry.payload)

    def finished(self, status: str, reason: str | None) -> None:
        """Record ``run.finished`` with the run's totals and tally; the journal is closed."""
        state = self.state
        self.closed = True
        self.emit(
            events.run_finished(
                status,
                reason,
                state.usage(),
                state.cost_usd,
                time.time() - state.started_at,
                self.tally,
                state.step,
            )
        )

    async def flush(self, status: str | None = None) -> None:
        """Write what is buffered (and the run's status) in one transaction."""
        if self.store is None or (not self._pending and status is None):
            return
        entries, self._pending = self._pending, []
        if self._unborn is not None:
            run, self._unborn = self._unborn, None
            run.status = status or run.status
            await self.store.create_run(run, entries)
            return
        await self.store.append(entries, (self.state.run_id, status) if status else None)

    async def finish(self, status: str) -> None:
        """Write what is buffered and the run's final status in the store's next
        transaction, without waiting for it (see the module docstring)."""
        if self.store is None:
            return
        if self._unborn is not None or not self._pending:
            await self.flush(status=status)  # nothing to save by waiting (rare)
            return
        entries, self._pending = self._pending, []
        written = self.store.append_soon(entries, (self.state.run_id, status))
        written.add_done_callback(self._report)

    def _report(self, written: asyncio.Future[None]) -> None:
        if not written.cancelled() and written.exception() is not None:
            log.error(
                "the end of run %s could not be journaled",
                self.state.run_id,
                exc_info=written.exception(),
            )

    def start(self, spec: dict[str, Any]) -> None:
        """Record ``run.started``; the run itself, with ``spec`` (what resume needs, see
        :func:`~.runner.run_spec_value`), is created by the first flush, in the same
        transaction as the first step's intent (one commit instead of two). ``spec`` is
        serialised now and kept for the store's redaction to walk, so it must not change
        afterwards (``run_spec_value`` copies what the run goes on changing)."""
        if self.store is None:
            return
        self.emit(events.run_started(self.state.model))
        now = int(time.time())
        self._unborn = StoredRun(
            id=self.state.run_id,
            tenant=self.state.tenant,
            agent=self.state.agent.name,
            agent_version=self.state.agent.version,
            status="in_progress",
            created_at=now,
            updated_at=now,
            spec=orjson.dumps(spec).decode(),
            spec_source=spec,
        )
