"""The hottest writes, handed to SQLite's driver directly; the same statements elsewhere.

An agent run writes seven statements (journal inserts, the run and its status, the
response). Through SQLAlchemy Core each costs ≈ 70 µs of Python before SQLite sees it
(execution context, parameter processing, result set-up) against ≈ 30 µs for SQLite's own
work, measured here — more than the commit. :class:`DirectStatement` compiles a Core
statement once per set of parameter names and, on SQLite, runs it with
``cursor.executemany`` on the connection's DB-API connection, inside the transaction the
runner already opened, applying each column type's bind processor as Core would. On any
other dialect (PostgreSQL) it is plain ``Connection.execute``: asyncpg's adapter gains
nothing from this, and the statement stays one definition for both.

What the shortcut does not do: fill in Python-side column defaults (a statement whose
parameters leave a column out falls back to ``Connection.execute``), return rows, or fire
SQLAlchemy's cursor events — so engine-level SQL instrumentation does not see these
statements (their callers' spans do).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

Params = dict[str, Any]
# The SQL, a function picking a parameter set's values in bind order (a tuple), and the
# bind processors to apply, by position (only the columns that have one).
_Plan = tuple[
    str, Callable[[Params], tuple[Any, ...]], tuple[tuple[int, Callable[[Any], Any]], ...]
]


class DirectStatement:
    """A DML statement run directly on SQLite's driver. See the module docstring."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, ...], _Plan | None] = {}

    def execute(self, connection: Connection, params: Params | Sequence[Params]) -> int:
        """Run with one parameter set or many; returns the rows affected."""
        many = [params] if isinstance(params, dict) else list(params)
        if not many:
            return 0
        plan = self._plan(connection.dialect, many[0]) if _is_sqlite(connection) else None
        if plan is None:
            return connection.execute(self.statement, params).rowcount
        sql, pick, processed = plan
        rows: list[Any] = [pick(p) for p in many]
        if processed:
            rows = [_processed(row, processed) for row in rows]
        driver = connection.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.executemany(sql, rows)
            return int(cursor.rowcount)
        except sqlite3.Error as exc:
            # As Core would raise it (IntegrityError, OperationalError, …), so that callers
            # and the loop writer's busy check see the same exceptions either way.
            raise DBAPIError.instance(sql, rows, exc, sqlite3.Error) from exc
        finally:
            cursor.close()

    def _plan(self, dialect: Dialect, sample: Params) -> _Plan | None:
        keys = tuple(sorted(sample))
        if keys not in self._plans:
            self._plans[keys] = _compile(self.statement, dialect, keys)
        return self._plans[keys]


def _compile(statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...]) -> _Plan | None:
    """SQL, bind names in order and their processors; None when the parameters do not
    name every bind (a default Core would fill in)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ())
    if not set(names) <= set(keys) or compiled.positiontup is None:
        return None
    processors = (compiled.binds[name].type.bind_processor(dialect) for name in names)
    processed = tuple((i, process) for i, process in enumerate(processors) if process is not None)
    return compiled.string, _picker(names), processed


def _picker(names: tuple[str, ...]) -> Callable[[Params], tuple[Any, ...]]:
    """A function returning a parameter set's values for ``names``, in order, as a tuple
    (``itemgetter`` does it in C, but returns a bare value for a single name)."""
    if len(names) == 1:
        name = names[0]
        return lambda params: (params[name],)
    return itemgetter(*names)


def _processed(
    row: tuple[Any, ...], processed: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> tuple[Any, ...]:
    """``row`` with each bind processor applied to its column."""
    values = list(row)
    for index, process in processed:
        values[index] = process(values[index])
    return tuple(values)


def _is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite" and connection.dialect.driver == "pysqlite"
