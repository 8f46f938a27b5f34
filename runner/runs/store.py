"""All runs below a set of roots, kept up to date incrementally.

``RunStore(roots).scan()`` discovers and reads every run; ``refresh(changed)`` re-reads only the
runs named by a watcher batch (a changed path that is not a known run is searched for new runs);
``get(path)`` hands out the live :class:`RunFolder` (chart data: ``get(p).table.column(key)``).
A run whose path disappeared is reported once, its summary marked ``removed``, and forgotten.
A run's status comes from the ``status_source`` the caller gives (the supervisor's records, see
:data:`runner.runs.status.StatusSource`), else from its files.
Each run is read in isolation: what fails in one run is a note on its own row (see
:mod:`runner.runs.folder`), and the other runs are read and listed as usual.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Set
from pathlib import Path

from runner.runs import status
from runner.runs.discover import Found, discover
from runner.runs.folder import RunFolder, failure
from runner.runs.residency import Residency
from runner.runs.status import StatusSource
from runner.runs.summary import RunSummary


def _key(path: str | Path) -> str:
    return os.path.abspath(path)


def refresh_isolated(run: RunFolder) -> None:
    """``run.refresh()``; whatever escapes it becomes the run's note instead of ending the scan."""
    try:
        run.refresh()
    except Exception as exc:  # isolation: one bad run never takes down the others
        run.errors["refresh"] = failure(run.name, exc)
    else:
        run.errors.pop("refresh", None)


class RunStore:
    """Runs under ``roots``; thread-safe."""

    def __init__(
        self, roots: Iterable[str | Path], status_source: StatusSource | None = None,
        tables: Residency | None = None,
    ) -> None:  # fmt: skip
        self.roots = [Path(_key(r)) for r in roots]
        self.status_source = status_source
        self.tables = tables  # which runs' tables stay in memory (None: the process's, see residency)
        self._runs: dict[str, RunFolder] = {}
        self._lock = threading.RLock()

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str | Path) and _key(path) in self._runs

    def runs(self) -> list[RunFolder]:
        with self._lock:
            return [self._runs[k] for k in sorted(self._runs)]

    def get(self, path: str | Path) -> RunFolder | None:
        """The run at ``path``; an existing path not yet known is opened and read; None when the
        path does not exist."""
        key = _key(path)
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                if not os.path.exists(key):
                    return None
                found = [f for f in discover([key]) if _key(f.path) == key]
                run = self._add(found[0] if found else Found(Path(key)))
                refresh_isolated(run)
            return run

    def scan(
        self, pause: Callable[[], None] | None = None, each: Callable[[RunSummary], None] | None = None,
        ready: Callable[[RunFolder], bool] | None = None,
    ) -> list[RunSummary]:  # fmt: skip
        """Discover every run under the roots, read what changed, return all summaries (in path order).

        The runs are read one by one outside the store's lock (each run locks itself), so
        :meth:`read_now` can read a run the user opened while the others are still being read.
        ``each`` is called with each read run's summary right after its read, while its table is still
        in memory (past the table budget it leaves as later runs are read); not for removed runs.
        ``ready``: runs are read from the front, but the last run left is read next while ``ready(run)``
        says it is cheap now (a cold reader working back from the end has read it into the cache)."""
        with self._lock:
            found = discover(self.roots)
            keys = {_key(f.path) for f in found}
            gone = [k for k in self._runs if k not in keys and not os.path.exists(k)]
            out = [self._forget(k) for k in gone]
            for item in found:
                if _key(item.path) not in self._runs:
                    self._add(item)
            runs = self.runs()
        left = deque(enumerate(runs))
        read: dict[int, RunSummary] = {}
        while left:
            if pause is not None:
                pause()  # the caller may hold the read back (a run opened meanwhile is read first)
            i, run = left.pop() if ready is not None and ready(left[-1][1]) else left.popleft()
            refresh_isolated(run)
            summary = read[i] = run.summary()  # while its table is in memory (past the budget it may leave)
            if each is not None:
                each(summary)
        return out + [read[i] for i in range(len(runs))]

    def read_now(self, path: str | Path) -> RunFolder | None:
        """The run at ``path``, read up to date now (ahead of a scan under way); None when absent.

        Never waits for a scan's discovery (it holds the store, ~0.1 s per 1,000 runs): a run the store
        does not know yet is then read on its own, outside the store (the scan reads the store's copy)."""
        key = _key(path)
        run = self._runs.get(key)
        if run is None and self._lock.acquire(blocking=False):
            try:
                run = self.get(key)
            finally:
                self._lock.release()
        elif run is None:
            if not os.path.exists(key):
                return None
            found = [f for f in discover([key]) if _key(f.path) == key]
            item = found[0] if found else Found(Path(key))
            run = RunFolder(
                item.path, foreign=item.foreign, status_source=self.status_source, tables=self.tables
            )
        if run is not None:
            refresh_isolated(run)
        return run

    def refresh(self, changed_paths: set[Path] | None = None) -> list[RunSummary]:
        """Re-read the runs at ``changed_paths`` (None: all, with discovery); return their summaries."""
        if changed_paths is None:
            return self.scan()
        out: list[RunSummary] = []
        with self._lock:
            touched: dict[str, RunFolder] = {}
            for path in changed_paths:
                key = _key(path)
                if key in self._runs:
                    if os.path.exists(key):
                        touched[key] = self._runs[key]
                    else:
                        out.append(self._forget(key))
                    continue
                for item in discover([path]) if os.path.exists(key) else []:
                    k = _key(item.path)
                    touched[k] = self._runs.get(k) or self._add(item)
            for run in touched.values():
                refresh_isolated(run)
            with status.one_pass(self.status_source):
                out.extend(run.summary() for run in touched.values())
        return out

    def summaries(self, skip: Set[str] = frozenset()) -> list[RunSummary]:
        """Summaries of every known run but those whose path is in ``skip``, without reading files (except
        cached small ones)."""
        with status.one_pass(self.status_source):
            return [run.summary() for run in self.runs() if not skip or str(run.path) not in skip]

    def _add(self, item: Found) -> RunFolder:
        run = RunFolder(item.path, foreign=item.foreign, status_source=self.status_source, tables=self.tables)
        self._runs[_key(item.path)] = run
        return run

    def _forget(self, key: str) -> RunSummary:
        run = self._runs.pop(key)
        summary = run.summary()
        run.forget_table()
        summary.removed = True
        summary.note = "no longer on disk"
        return summary
