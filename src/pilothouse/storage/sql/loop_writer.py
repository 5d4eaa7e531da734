"""SQLite writes run on the event loop itself while the writer thread has nothing to do.

:class:`~pilothouse.storage.sql.runner.ThreadedRunner` sends writes to one writer thread
and group-commits them: under load that is the fastest way (one commit for many writes, the
loop never waits for SQLite). A lone write, though, pays two thread hand-offs (the job to
the writer, the result back through ``call_soon_threadsafe``) and the wake-ups of both
threads, which measured here cost more than the write itself: ≈ 150 to 200 µs of CPU against
≈ 60 µs for SQLAlchemy Core and ≈ 80 µs for a WAL commit with ``synchronous=NORMAL`` (no
fsync). An agent run at concurrency 1 commits four or five times, so the hand-offs alone
were a fifth of its own time. When no write is queued or running, the runner therefore
asks this :class:`LoopWriter` to run the write right here, in a transaction of its own.

What keeps that safe:

* **One connection, one thread.** The loop writer has its own connection, used only by the
  thread that first used it (the serving event loop's thread); calls from any other thread
  get :data:`NOT_RUN` and go to the writer thread as before.
* **Never wait on a lock.** The connection's ``busy_timeout`` is 0: if another connection
  holds SQLite's write lock (a write the runner did not see, another process), the write
  is rolled back at once and reported :data:`NOT_RUN`; the runner then queues it for the
  writer thread, whose connection waits as usual. The event loop is never blocked on a
  lock, and an operation may run twice only in the sense the group commit already allows
  (rolled back, then run again).
* **Never checkpoint here.** A WAL checkpoint fsyncs; the loop writer's connection has
  ``wal_autocheckpoint=0``, and every :attr:`LoopWriter.checkpoint_every` commits (about
  SQLite's default of 1,000 pages for an agent run's writes) the runner runs a checkpoint
  on the writer thread instead, with writes held back meanwhile: a checkpoint that new
  frames keep overtaking never finishes, and the WAL would grow without end.

Failures other than a busy database (a constraint violation, say) roll back and propagate,
exactly like a write that failed alone in a group commit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Final, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

T = TypeVar("T")


class NotRun:
    """The write was not run (wrong thread or database busy); queue it for the writer."""

    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN: Final = NotRun()

# SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (the low byte is the primary code).
_BUSY_CODES = frozenset({5, 6})


class LoopWriter:
    """Runs single writes on the calling (event loop) thread. See the module docstring."""

    def __init__(self, engine: Engine, checkpoint_every: int = 200) -> None:
        self._engine = engine
        self.checkpoint_every = checkpoint_every
        self._connection: Connection | None = None
        self._owner: int | None = None
        self._since_checkpoint = 0

    def owns_thread(self) -> bool:
        """Whether writes from the calling thread may run here (the first caller's
        thread becomes the owner)."""
        thread = threading.get_ident()
        if self._owner is None:
            self._owner = thread
        return self._owner == thread

    def run(self, operation: Callable[[Connection], T]) -> T | NotRun:
        """Run ``operation`` in a transaction of its own, or return :data:`NOT_RUN`."""
        connection = self._owned_connection()
        if connection is None:
            return NOT_RUN
        try:
            with connection.begin():
                result = operation(connection)
        except OperationalError as exc:
            if _is_busy(exc):
                return NOT_RUN
            raise
        self._since_checkpoint += 1
        return result

    def checkpoint_due(self) -> bool:
        """Whether enough commits ran here that the WAL wants a checkpoint (resets the
        count: the caller schedules one)."""
        if self._since_checkpoint < self.checkpoint_every:
            return False
        self._since_checkpoint = 0
        return True

    def close(self) -> None:
        """Close the connection (from any thread, once no write runs)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _owned_connection(self) -> Connection | None:
        if not self.owns_thread():
            return None
        connection = self._connection
        if connection is None or connection.closed:
            connection = self._engine.connect()
            driver = connection.connection.dbapi_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            driver.execute("PRAGMA wal_autocheckpoint=0")
            self._connection = connection
        return connection


def checkpoint(connection: Connection) -> None:
    """A passive WAL checkpoint (copies what it can, waits for nobody)."""
    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _is_busy(exc: OperationalError) -> bool:
    original = exc.orig
    if isinstance(original, sqlite3.OperationalError):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _BUSY_CODES
        return "locked" in str(original) or "busy" in str(original)
    return False
