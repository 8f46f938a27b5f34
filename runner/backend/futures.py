"""Futures: every queued request gets an id; results are fetched by long polling.

Created and awaited on the event loop; resolved from the worker thread through
``call_soon_threadsafe``. Finished entries are dropped a while after they complete.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

KEEP_SECONDS = 900.0


@dataclass
class Entry:
    created: float
    done: asyncio.Event = field(default_factory=asyncio.Event)
    result: Any = None
    error: str | None = None
    category: str = "server"
    finished: float = 0.0


class FutureStore:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._entries: dict[str, Entry] = {}
        self._ids = itertools.count(1)
        self._prefix = f"req_{int(time.time()) % 100000}_"

    def create(self) -> str:
        """A new pending future (call on the event loop)."""
        self._sweep()
        rid = f"{self._prefix}{next(self._ids)}"
        self._entries[rid] = Entry(created=time.time())
        return rid

    def resolve(
        self, rid: str, result: Any = None, error: str | None = None, category: str = "server"
    ) -> None:
        """Complete a future from any thread."""
        self._loop.call_soon_threadsafe(self._set, rid, result, error, category)

    def _set(self, rid: str, result: Any, error: str | None, category: str) -> None:
        entry = self._entries.get(rid)
        if entry is None:
            return
        entry.result, entry.error, entry.category = result, error, category
        entry.finished = time.time()
        entry.done.set()

    async def wait(self, rid: str, timeout: float) -> Entry | None:
        """The entry once done, the pending entry after ``timeout``, or None if unknown."""
        entry = self._entries.get(rid)
        if entry is None:
            return None
        try:
            await asyncio.wait_for(entry.done.wait(), timeout)
        except TimeoutError:
            pass
        return entry

    def pending(self) -> int:
        return sum(1 for e in self._entries.values() if not e.done.is_set())

    def _sweep(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        stale = [k for k, e in self._entries.items() if e.done.is_set() and e.finished < cutoff]
        for key in stale:
            del self._entries[key]
