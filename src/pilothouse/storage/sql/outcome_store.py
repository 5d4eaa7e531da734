"""Feedback and the observability reads over runs, in SQL (shares :class:`SQLStore`'s
runner, so writes are group-committed with the rest)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, and_, insert, select
from sqlalchemy.engine import Connection

from pilothouse.storage.base import StoredRun
from pilothouse.storage.outcomes import FinishedRun, RunQuery, StoredFeedback
from pilothouse.storage.sql.journal_store import RUN_FINISHED, finished_payload
from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import feedback, journal, runs

_HEADER = [c for c in runs.c if c.name != "spec"]


class SQLOutcomeStore:
    """The :class:`~pilothouse.storage.outcomes.OutcomeStore` over SQLAlchemy Core."""

    def __init__(self, runner: SqlRunner) -> None:
        self.runner = runner

    async def add_feedback(self, record: StoredFeedback) -> None:
        """Insert one record."""
        row = {
            "id": record.id,
            "tenant": record.tenant,
            "response_id": record.response_id,
            "source": record.source,
            "score": record.score,
            "label": record.label,
            "comment": record.comment,
            "principal_id": record.principal_id,
            "created_at": record.created_at,
            "schema_version": record.schema_version,
        }

        def write(conn: Connection) -> None:
            conn.execute(insert(feedback), row)

        await self.runner.write(write)

    async def feedback(self, tenant: str, response_id: str) -> list[StoredFeedback]:
        """Oldest first."""
        statement = (
            select(feedback)
            .where(feedback.c.tenant == tenant, feedback.c.response_id == response_id)
            .order_by(feedback.c.created_at, feedback.c.id)
        )
        return await self.runner.read(lambda conn: _feedback_rows(conn, statement))

    async def window_feedback(
        self, tenant: str, since: float, until: float, agent: str | None = None
    ) -> list[StoredFeedback]:
        """Feedback on the window's runs (a sub-select, not a list of ids)."""
        run_ids = select(runs.c.id).where(_window(tenant, since, until, agent))
        statement = (
            select(feedback)
            .where(feedback.c.tenant == tenant, feedback.c.response_id.in_(run_ids))
            .order_by(feedback.c.created_at, feedback.c.id)
        )
        return await self.runner.read(lambda conn: _feedback_rows(conn, statement))

    async def find_runs(self, tenant: str, query: RunQuery) -> list[StoredRun]:
        """Newest first, filtered."""
        conditions = [runs.c.tenant == tenant]
        if query.agent is not None:
            conditions.append(runs.c.agent == query.agent)
        if query.status is not None:
            conditions.append(runs.c.status == query.status)
        if query.since is not None:
            conditions.append(runs.c.created_at >= math.ceil(query.since))
        if query.until is not None:
            conditions.append(runs.c.created_at < math.ceil(query.until))
        statement = (
            select(runs)
            .where(and_(*conditions))
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            .limit(max(1, query.limit))
        )

        def read(conn: Connection) -> list[StoredRun]:
            return [StoredRun(**row) for row in conn.execute(statement).mappings()]

        return await self.runner.read(read)

    async def finished_runs(
        self, tenant: str, since: float, until: float, agent: str | None = None
    ) -> list[FinishedRun]:
        """Run headers left-joined with their ``run.finished`` entry."""
        statement: Select[Any] = (
            select(
                *_HEADER,
                journal.c.payload,
                journal.c.last_seq,
                journal.c.at.label("finished_at"),
            )
            .select_from(
                runs.outerjoin(
                    journal, and_(journal.c.run_id == runs.c.id, journal.c.kind == RUN_FINISHED)
                )
            )
            .where(_window(tenant, since, until, agent))
            .order_by(runs.c.created_at, runs.c.id, journal.c.seq)
        )

        def read(conn: Connection) -> list[FinishedRun]:
            found: dict[str, FinishedRun] = {}
            for row in conn.execute(statement).mappings():
                header = {c.name: row[c.name] for c in _HEADER}
                payload = finished_payload(row["payload"], row["last_seq"])
                # A resumed run may carry more than one run.finished: the last one counts.
                found[row["id"]] = FinishedRun(
                    StoredRun(spec="", **header), payload, row["finished_at"]
                )
            return list(found.values())

        return await self.runner.read(read)


def _window(tenant: str, since: float, until: float, agent: str | None) -> Any:
    conditions = [
        runs.c.tenant == tenant,
        runs.c.created_at >= math.ceil(since),
        runs.c.created_at < math.ceil(until),
    ]
    if agent is not None:
        conditions.append(runs.c.agent == agent)
    return and_(*conditions)


def _feedback_rows(conn: Connection, statement: Any) -> list[StoredFeedback]:
    return [StoredFeedback(**row) for row in conn.execute(statement).mappings()]
