"""Which runs keep their metric table in memory: a byte budget over every table, least recently used out.

A run's :class:`~runner.runs.series.MetricTable` costs about 420 KB per 1,000 steps (40 float columns and
their presence bytes), so 1,000 runs cannot all stay resident. Every access to a run's table (the alert
engine judging it, the run view, compare) marks it used; when the resident tables pass the budget, the
least recently used are evicted: their table is written to the columnar metrics cache
(:mod:`runner.runs.cache`) when it grew since the last save, dropped from memory, and read back from there on
the next access (see :meth:`RunFolder.evict <runner.runs.folder.RunFolder.evict>`). The run on screen is
pinned hot. A run whose table cannot be saved (the cache off, the folder not writable) is never evicted.

``TINKERTOP_TABLE_BUDGET_MB`` sets the budget (default 96; ``0``: no budget, nothing is evicted). With 200
runs of 1,000 steps (~84 MB) nothing is evicted; with 1,000, the runs that append stay hot and idle ones
leave memory.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runner.runs.series import MetricTable

DEFAULT_BUDGET_MB = 96
MIN_EVICT_BYTES = 64 * 1024  # smaller tables are not worth a cache round trip
_OTHER_VALUE_BYTES = 64  # a rough cost per non-numeric value (a dict slot and a small object)


@dataclass
class ColdTable:
    """What an evicted table leaves behind: the counters its readers compare (they keep rising), its
    merges not yet seen by every reader, and the follower's position its cache entry must have been
    written at."""

    version: int
    resets: int
    merges: list[tuple[int, int, int]]
    tail: dict[str, Any]

    @classmethod
    def of(cls, table: MetricTable, tail: dict[str, Any]) -> ColdTable:
        with table._lock:
            return cls(table.version, table.resets, list(table._merges), tail)

    def restore(self, table: MetricTable) -> None:
        """Give a table read back (or a new empty one) the evicted table's counters."""
        with table._lock:
            table.version, table.resets, table._merges = self.version, self.resets, list(self.merges)


class Evictable(Protocol):
    def evict(self) -> bool: ...


def budget_from_env() -> int:
    """The budget in bytes from ``TINKERTOP_TABLE_BUDGET_MB`` (0: unlimited)."""
    raw = os.environ.get("TINKERTOP_TABLE_BUDGET_MB", "")
    try:
        mb = float(raw) if raw.strip() else DEFAULT_BUDGET_MB
    except ValueError:
        mb = DEFAULT_BUDGET_MB
    if not math.isfinite(mb):  # "inf", "nan", "1e400": no number of bytes; the default stands
        mb = DEFAULT_BUDGET_MB
    return max(0, int(mb * 2**20))


def table_bytes(table: Any) -> int:
    """About how many bytes ``table``'s columns hold (arrays, presence bytes, non-numeric values)."""
    with table._lock:
        n = len(table._steps) * 16  # steps (int64) and first-seen times (float64)
        n += sum(len(c) * c.itemsize for c in table._cols.values())
        n += sum(len(p) for p in table._present.values())
        n += sum(len(rows) for rows in table._other.values()) * _OTHER_VALUE_BYTES
        return n


class Residency:
    """The resident tables of a process, by run, least recently used first. Thread-safe.

    It holds runs weakly (a forgotten run leaves it by itself) and never takes a run's lock while
    holding its own: eviction happens outside it, and a run whose lock is busy is skipped."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget_from_env() if budget is None else budget
        self._lru: OrderedDict[int, tuple[weakref.ref, int]] = OrderedDict()
        self._pinned: weakref.ref | None = None
        self._dead: list[weakref.ref] = []  # runs collected since the last purge (a weakref callback)
        self._lock = threading.Lock()
        self.total = 0  # bytes of the resident tables it knows
        self.evictions = 0
        self.reloads = 0

    def touch(self, run: object) -> None:
        """``run``'s table was used: it becomes the most recently used."""
        with self._lock:
            if id(run) in self._lru:
                self._lru.move_to_end(id(run))

    def update(self, run: Evictable, nbytes: int) -> None:
        """``run``'s table is resident and holds ``nbytes`` (after a read or a reload): marked used, and
        the least recently used others are evicted while the total passes the budget."""
        with self._lock:
            if self._dead:
                self._purge()
            _, old = self._lru.pop(id(run), (None, 0))
            self._lru[id(run)] = (weakref.ref(run, self._dead.append), nbytes)
            self.total += nbytes - old
            victims = self._victims(id(run)) if self.budget and self.total > self.budget else []
        for victim in victims:
            if self.total <= self.budget:
                break
            victim.evict()

    def drop(self, run: object, evicted: bool = False) -> None:
        """``run``'s table left memory (evicted, or the run forgotten)."""
        with self._lock:
            _, nbytes = self._lru.pop(id(run), (None, 0))
            self.total -= nbytes
            self.evictions += evicted

    def pin(self, run: object) -> None:
        """Keep ``run``'s table resident (the run open in the run view; one at a time)."""
        with self._lock:
            self._pinned = weakref.ref(run)

    def reloaded(self) -> None:
        with self._lock:
            self.reloads += 1

    def _purge(self) -> None:
        """Forget the runs collected (their tables went with them)."""
        self._dead.clear()
        for key, (ref, nbytes) in list(self._lru.items()):
            if ref() is None:
                del self._lru[key]
                self.total -= nbytes

    def _victims(self, current: int) -> list[Evictable]:
        """Runs to evict, least recently used first, enough to come back under the budget."""
        pinned = self._pinned() if self._pinned is not None else None
        out: list[Evictable] = []
        excess = self.total - self.budget
        for key, (ref, nbytes) in list(self._lru.items()):
            run = ref()
            if run is None:  # forgotten and collected
                del self._lru[key]
                self.total -= nbytes
                excess -= nbytes
            elif key != current and run is not pinned and nbytes >= MIN_EVICT_BYTES:
                out.append(run)
                excess -= nbytes
            if excess <= 0:
                break
        return out


_default: Residency | None = None
_default_lock = threading.Lock()


def default() -> Residency:
    """The process's residency (budget from the environment when first used)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Residency()
        return _default
