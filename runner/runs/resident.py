"""A run's metric table in memory, or evicted to the metrics cache and read back on the next access.

:class:`ResidentTable` is the part of :class:`~runner.runs.folder.RunFolder` that keeps its table within
the process's budget (see :mod:`runner.runs.residency`). ``table`` hands out the table (read back from
the cache when evicted) and marks it used; ``metrics_version`` says its version without reading it back.
An evicted table leaves a :class:`~runner.runs.residency.ColdTable` behind: its version, resets and merges
carry on in the table read back, so followers comparing them see no change, and later changes rise past
them. A reader holding the evicted table object keeps a consistent table: it is never changed again. When
the entry no longer holds the table (deleted, corrupt, written by another reader at another position),
the metrics file is read again from byte 0: nothing is lost.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from runner.runs import cache, residency
from runner.runs.cache import CachedReader
from runner.runs.jsonl import JsonlTail
from runner.runs.series import MetricTable

if TYPE_CHECKING:
    from collections.abc import Callable


class ResidentTable:
    """The table side of a run folder (the folder sets these attributes and reads the files)."""

    lock: threading.RLock
    _table: MetricTable | None
    _cold: residency.ColdTable | None
    _tables: residency.Residency
    _keep_resident: bool
    _cache: CachedReader | None
    _metrics: JsonlTail | None

    def _guarded(self, reader: str, read: Callable[[], bool]) -> bool:
        raise NotImplementedError

    def _read_metrics(self) -> bool:
        raise NotImplementedError

    @property
    def table(self) -> MetricTable:
        """This run's metrics (read back from the metrics cache when evicted); marks it used."""
        table = self._table
        if table is None:
            with self.lock:
                table = self._table if self._table is not None else self._reload()
        else:
            self._tables.touch(self)
        return table

    @property
    def metrics_version(self) -> int:
        """The table's version without reading back an evicted table (it keeps rising across evictions)."""
        with self.lock:
            table, cold = self._table, self._cold
            return table.version if table is not None else cold.version if cold is not None else -1

    def evict(self) -> bool:
        """Drop the table from memory, saved to the metrics cache first when it grew since the last save.
        False when it stays: its lock busy, no cache, or the entry could not be written."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            table = self._table
            if table is None or self._cache is None or self._keep_resident:
                return False
            if not _saved(self._cache, table):
                self._keep_resident = True
                return False
            self._cold = residency.ColdTable.of(table, cache.tail_state(self._cache.tail))
            self._table = None  # a reader holding it keeps a consistent table: it is never changed again
            self._tables.drop(self, evicted=True)
            return True
        finally:
            self.lock.release()

    def forget_table(self) -> None:
        """This run is gone: its table no longer counts against the budget."""
        self._tables.drop(self)

    def pin(self) -> None:
        """Keep this run's table resident (the run open in the run view)."""
        self._tables.pin(self)

    def _resident(self, table: MetricTable) -> None:
        if self._cache is not None and cache.enabled():
            self._tables.update(self, residency.table_bytes(table))

    def _reload(self) -> MetricTable:
        if not self._reload_from_cache():
            self._guarded("metrics", self._read_again)
        assert self._table is not None
        return self._table

    def _reload_from_cache(self) -> bool:
        """Read the evicted table back from its entry; False when the entry no longer holds it."""
        cold = self._cold
        assert cold is not None and self._metrics is not None
        table = cache.reload(self._metrics.path, cold.tail)
        if table is None:
            return False
        cold.restore(table)
        self._table = table
        self._tables.reloaded()
        self._resident(table)
        return True

    def _read_again(self) -> bool:
        """The evicted table's entry vanished or is corrupt: read the metrics file from byte 0."""
        assert self._metrics is not None
        self._metrics = JsonlTail(self._metrics.path)
        self._cache = CachedReader(self._metrics)
        self._emptied()
        self._read_metrics()
        return True

    def _emptied(self) -> None:
        """Empty the table (counters rising), resident again."""
        if self._table is None:
            cold = self._cold
            assert cold is not None
            self._table = MetricTable()
            cold.restore(self._table)
        self._table.reset()


def _saved(reader: CachedReader, table: MetricTable) -> bool:
    """Is ``table`` in its cache entry (written now if needed)? False on any failure: it stays resident."""
    try:
        return reader.evict_save(table)
    except Exception:  # an eviction runs in another run's read: never an exception there
        return False
