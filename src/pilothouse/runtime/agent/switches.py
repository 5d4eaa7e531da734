"""Kill switches: stop new steps for one agent, or for all (``*``).

Switches come from two places: settings (``PILOTHOUSE_KILL_SWITCH``, fixed for the process)
and the store (engaged through the admin API, seen by every process sharing the store).
Store switches are read at most once per ``refresh_s`` so that checking before every step
costs a dictionary lookup, and a switch engaged anywhere stops steps everywhere within
about a second.
"""

from __future__ import annotations

import time

from pilothouse.storage.base import JournalStore

ALL = "*"


class SwitchBoard:
    """Answers "may this agent take another step?"."""

    def __init__(
        self, store: JournalStore | None, fixed: list[str] | None = None, refresh_s: float = 1.0
    ) -> None:
        self.store = store
        self.fixed = dict.fromkeys(fixed or [], "engaged in settings")
        self.refresh_s = refresh_s
        self._engaged: dict[str, str] = {}
        self._read_at = float("-inf")

    def engaged(self) -> dict[str, str]:
        """Every engaged switch (settings and store) with its reason."""
        return {**self._engaged, **self.fixed}

    def reason(self, agent: str) -> str | None:
        """Why ``agent`` is stopped, or None when it may run."""
        engaged = {**self._engaged, **self.fixed}
        return engaged.get(agent) or engaged.get(ALL)

    async def refresh(self, force: bool = False) -> None:
        """Re-read store switches if the last read is older than ``refresh_s``."""
        if self.store is None:
            return
        now = time.monotonic()
        if force or now - self._read_at >= self.refresh_s:
            self._read_at = now
            self._engaged = await self.store.engaged_switches()

    async def set(self, name: str, engaged: bool, reason: str) -> None:
        """Engage or release a switch in the store (and here at once)."""
        if self.store is None:
            return
        await self.store.set_switch(name, engaged, reason, int(time.time()))
        await self.refresh(force=True)
