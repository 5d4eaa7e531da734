"""Kill switches: stop new steps for one agent, or for all (``*``).

Switches come from two places: settings (``PILOTHOUSE_KILL_SWITCH``, fixed for the process)
and the store (engaged through the admin API, seen by every process sharing the store).
Store switches are re-read in the background once half ``refresh_s`` old, and never used
once ``refresh_s`` old (:class:`~pilothouse.runtime.refreshed.Refreshed`): checking before
every step costs a dictionary lookup and, while steps keep coming, never waits for the
store, and a switch engaged anywhere stops steps everywhere within about a second. A switch
set through this process applies at once.
"""

from __future__ import annotations

import time

from pilothouse.runtime.refreshed import Refreshed
from pilothouse.storage.base import JournalStore

ALL = "*"


class SwitchBoard:
    """Answers "may this agent take another step?"."""

    def __init__(
        self, store: JournalStore | None, fixed: list[str] | None = None, refresh_s: float = 1.0
    ) -> None:
        self.store = store
        self.fixed = dict.fromkeys(fixed or [], "engaged in settings")
        self._stored: Refreshed[dict[str, str]] | None = None
        if store is not None:
            self._stored = Refreshed(store.engaged_switches, refresh_s, "the kill switches")
        # Store and settings switches together, made again only when a read brings news.
        self._merged_from: dict[str, str] | None = None
        self._merged = dict(self.fixed)

    def engaged(self) -> dict[str, str]:
        """Every engaged switch (settings and store) with its reason."""
        return dict(self._all())

    def reason(self, agent: str) -> str | None:
        """Why ``agent`` is stopped, or None when it may run."""
        engaged = self._all()
        return engaged.get(agent) or engaged.get(ALL)

    async def refresh(self, force: bool = False) -> None:
        """Bring the store's switches up to date: with ``force``, or when the last read
        is ``refresh_s`` old, by a read waited for; else in the background once it is
        half that old."""
        if self._stored is None:
            return
        if force:
            await self._stored.reload()
        else:
            await self._stored.get()

    async def set(self, name: str, engaged: bool, reason: str) -> None:
        """Engage or release a switch in the store (and here at once)."""
        if self.store is None:
            return
        await self.store.set_switch(name, engaged, reason, int(time.time()))
        await self.refresh(force=True)

    def _all(self) -> dict[str, str]:
        stored = self._stored.current() if self._stored is not None else None
        if stored is not self._merged_from:
            self._merged_from = stored
            self._merged = {**(stored or {}), **self.fixed}
        return self._merged
