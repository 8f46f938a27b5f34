"""The data side of the app: scans, follows and snapshots runs off the UI thread.

``Follower`` owns the ``RunStore``; only worker threads call it. The UI tells it which run (and
which metric keys) the run view shows; every refresh batch then carries a snapshot of that run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.runs.model import RunSummary

if TYPE_CHECKING:
    from runner.runs.store import RunStore
from tui.messages import RunSnapshot, Series


@dataclass(frozen=True)
class Focus:
    """The run the run view shows and the metric keys it charts."""

    path: str
    keys: tuple[str, ...]


class Follower:
    """Scans run folders, refreshes changed ones and snapshots the focused run."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._lock = threading.Lock()
        self._store: RunStore | None = None  # created in the worker by full()
        self.focus: Focus | None = None

    def quick(self) -> list[RunSummary]:
        """Summaries from each file's tail only: fast, for the first paint."""
        from runner.runs.quick import quick_scan

        return quick_scan(self.roots)

    def full(self) -> list[RunSummary]:
        """Read every run folder completely."""
        from runner.runs.store import RunStore

        with self._lock:
            store = RunStore(self.roots)
            self._store = store
            return list(store.scan())

    def refresh(self, changed: set[Path]) -> list[RunSummary]:
        """Re-read the run folders in ``changed`` (new bytes only) and return all summaries."""
        with self._lock:
            assert self._store is not None
            return list(self._store.refresh(changed))

    def resummarise(self) -> list[RunSummary]:
        """Every known run's summary again without re-reading files: supervisor statuses (their
        state files live outside the watched folders) and "ago"/stale move on a timer."""
        store = self._store  # RunStore and RunFolder lock themselves: refreshes need not wait
        return store.summaries() if store is not None else []

    def watch(self, stop: threading.Event) -> Iterable[set[Path]]:
        """Batches of changed run folders until ``stop`` is set."""
        from runner.runs.watch import watch_changes

        return watch_changes(self.roots, stop)

    def snapshot(self, focus: Focus | None = None) -> RunSnapshot | None:
        """The focused run's detail and the series of its charted keys (None if not loaded)."""
        focus = focus or self.focus
        if focus is None or self._store is None:
            return None
        with self._lock:
            folder = self._store.get(Path(focus.path))
            if folder is None:
                return None
            detail = folder.detail()
            series = {key: _series(folder, key) for key in focus.keys}
        return RunSnapshot(path=focus.path, detail=detail, series=series)


def _series(folder: object, key: str) -> Series:
    table = folder.table  # type: ignore[attr-defined]
    steps, values = table.column(key)
    times, _ = table.column_times(key)
    return Series(key=key, steps=list(steps), values=[_num(v) for v in values], times=list(times))


def _num(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return float("nan")


class Hook:
    """Optional timing hook for the benchmark: ``TINKERTOP_HOOK_FILE`` names a file to append to.

    Off by default. Lines: ``painted <epoch> <rows>``, ``loaded <epoch>`` (full read shown) and
    ``seen <run> <step> <epoch>``.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else os.environ.get("TINKERTOP_HOOK_FILE")
        self._steps: dict[str, int] = {}
        self._painted = False
        self._loaded = False

    def painted(self, rows: int) -> None:
        if self.path and not self._painted and rows:
            self._painted = True
            self._write(f"painted {time.time():.6f} {rows}")

    def loaded(self) -> None:
        if self.path and not self._loaded:
            self._loaded = True
            self._write(f"loaded {time.time():.6f}")

    def seen(self, summaries: list[RunSummary]) -> None:
        if not self.path:
            return
        now = time.time()
        lines = []
        for summary in summaries:
            step = summary.step
            if step is not None and step > self._steps.get(summary.path, -1):
                self._steps[summary.path] = step
                lines.append(f"seen {summary.name} {step} {now:.6f}")
        if lines:
            self._write("\n".join(lines))

    def _write(self, text: str) -> None:
        assert self.path
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


ClockFn = Callable[[], float]


def clock_from_env() -> ClockFn | None:
    """``TINKERTOP_FROZEN_NOW=<epoch>`` freezes the app's clock (for snapshots)."""
    frozen = os.environ.get("TINKERTOP_FROZEN_NOW")
    if not frozen:
        return None
    value = float(frozen)
    return lambda: value
