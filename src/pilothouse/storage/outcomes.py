"""The store boundary of the observability plane: feedback on responses, and the reads
that ``pilothouse runs``, the admin run list and the scorecard make over runs.

Runs and their journals are written by the runtime (:class:`~.base.JournalStore`); this
protocol only adds feedback records and window queries, all scoped by ``tenant``.

Contract for implementers:

* ``add_feedback`` is atomic; feedback is append-only (a newer record refines an older one,
  it never replaces it), so the history of grades stays auditable.
* Window queries select runs by ``created_at`` in ``[since, until)`` (epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pilothouse.storage.base import StoredRun

FEEDBACK_SCHEMA_VERSION = 1

SOURCES = ("client", "eval")


@dataclass(slots=True)
class StoredFeedback:
    """One grade of a response: a client's feedback or an eval's grade.

    ``score`` is in [-1, 1] (see :mod:`pilothouse.observability.outcomes` for how it refines
    a task's outcome); ``principal_id`` is the API key id that sent it, never a secret.
    """

    id: str
    tenant: str
    response_id: str
    source: str
    score: float | None
    label: str | None
    comment: str | None
    principal_id: str | None
    created_at: float
    schema_version: int = FEEDBACK_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The wire form (``object: "response.feedback"``)."""
        return {
            "id": self.id,
            "object": "response.feedback",
            "response_id": self.response_id,
            "source": self.source,
            "score": self.score,
            "label": self.label,
            "comment": self.comment,
            "created_at": self.created_at,
        }


@dataclass(slots=True)
class RunQuery:
    """Filters of a run list (every field optional)."""

    agent: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 50


@dataclass(slots=True)
class FinishedRun:
    """A run header with its ``run.finished`` payload (None while it runs)."""

    run: StoredRun
    finished: dict[str, Any] | None
    finished_at: float | None


def run_summary(run: StoredRun) -> dict[str, Any]:
    """A run header without its spec, as JSON (``runs list --json`` and the admin API)."""
    return {
        "id": run.id,
        "object": "run",
        "agent": run.agent,
        "agent_version": run.agent_version,
        "status": run.status,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    }


class OutcomeStore(Protocol):
    """Feedback records and the observability reads over runs. See the module docstring."""

    async def add_feedback(self, record: StoredFeedback) -> None:
        """Persist one feedback record."""
        ...

    async def feedback(self, tenant: str, response_id: str) -> list[StoredFeedback]:
        """A response's feedback, oldest first."""
        ...

    async def window_feedback(
        self, tenant: str, since: float, until: float, agent: str | None = None
    ) -> list[StoredFeedback]:
        """Feedback on the runs created in ``[since, until)``, oldest first."""
        ...

    async def find_runs(self, tenant: str, query: RunQuery) -> list[StoredRun]:
        """Runs matching ``query``, newest first."""
        ...

    async def finished_runs(
        self, tenant: str, since: float, until: float, agent: str | None = None
    ) -> list[FinishedRun]:
        """Runs created in ``[since, until)`` with their ``run.finished`` payloads."""
        ...
