"""The data side of the app: scans, follows and snapshots runs off the UI thread.

``Follower`` owns the ``RunStore``; only worker threads call it. The UI tells it which run (and
which metric keys) the run view shows; every refresh batch then carries a snapshot of that run.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.api import status_source
from runner.runs.snapshot import RunSnapshot, last_steps, series_of
from runner.runs.summary import RunDetail, RunSummary
from tui.format import flatten_config

if TYPE_CHECKING:
    from runner.alerts.alert import Alert
    from runner.alerts.board import AlertBoard
    from runner.runs.folder import RunFolder
    from runner.runs.series import MetricTable
    from runner.runs.store import RunStore


OPEN_HOLD_S = 1.0  # the full read pauses this long when a run is opened during it (read, then drawn)
HOLD_STEP_S = 0.02  # how often a held full read looks whether the hold ended early
# a run off screen is judged by the alert rules at most this often (all the lines it added at once): the
# rules cost the same for one line as for ten, and most of the app's CPU with many runs appending
JUDGE_EVERY_S = 3.0
# and judging runs off screen takes at most this share of one core (see JudgePacer): ~1 ms a run, so 100
# runs appending a line a second are judged every 20-30 s, not every 3 s (~2-3% of a core)
JUDGE_SHARE = 0.005
# the full read judges the runs it read this many at a time (their tables still in memory), when the table
# budget holds many more (else one at a time)
FULL_JUDGE_BATCH, FULL_JUDGE_BATCH_BUDGET = 16, 64 * 2**20
# runs off screen are read at most this often (all their changes at once), the open run at once; the wait
# after a read of n runs off screen is n * OFF_SCREEN_PER_RUN_S up to that (a few changed runs: no wait)
OFF_SCREEN_EVERY_S = 3.0
OFF_SCREEN_PER_RUN_S = 0.03
# the watcher's step (see runner.runs.watch.WATCH_STEP_MS): 20 ms with a run open (its changes are drawn at
# once), 100 ms with none (the list's changes wait for each other anyway): ~0.5% of a core less, idle or not
WATCH_STEP_OPEN_MS, WATCH_STEP_LIST_MS = 20, 100
# the status timer leaves out runs read this recently (their summaries are that fresh): with 100 of 200 runs
# appending it summarises the other 100, half the work
READ_FRESH_S = 2.0


class ChangeBatcher:
    """Changed run folders, held back unless they are the open run's.

    Each run folder read costs about the same for one new line as for several, and a row off screen
    need not move every second: changes to other runs are gathered and handed on together, the next time
    ``per_run_s`` per run handed on last time later, at most ``every_s`` (the first change after a quiet
    spell at once; a few runs changing: no wait), the open run's always at once."""

    def __init__(
        self, every_s: float, per_run_s: float = OFF_SCREEN_PER_RUN_S, clock: ClockFn = time.monotonic
    ) -> None:
        self.every_s = every_s
        self.per_run_s = per_run_s
        self.clock = clock
        self.waiting: set[Path] = set()
        self._due = 0.0  # the held-back changes are handed on from then

    def take(self, changed: set[Path], focus: str | None) -> set[Path]:
        """The folders to read now, of ``changed`` and those held back before."""
        key = os.path.abspath(focus) if focus else None
        now = {p for p in changed if key is not None and os.path.abspath(p) == key}
        self.waiting |= changed - now
        tick = self.clock()
        if self.waiting and tick >= self._due:
            self._due = tick + min(self.every_s, self.per_run_s * len(self.waiting))
            now |= self.waiting
            self.waiting = set()
        return now


class JudgePacer:
    """How long runs off screen keep their alerts before they are judged again: ``defer_s`` after their
    last judgement, and none at all until the CPU spent judging fits ``share`` of one core (a pass that took
    ``c`` seconds of CPU holds the next one back ``c / share`` seconds). The open run and runs never judged
    are judged at once all the same (see :meth:`AlertBoard.judge`)."""

    def __init__(
        self, share: float, clock: ClockFn = time.monotonic, cpu: ClockFn = time.thread_time
    ) -> None:
        self.share = share
        self.clock = clock
        self.cpu = cpu  # this thread's CPU seconds
        self._free_at = -math.inf  # runs off screen are judged again from then on
        self._lock = threading.Lock()  # the follow worker and the timer both judge

    def run(self, defer_s: float, judge: Callable[[float], None]) -> None:
        """``judge(defer)``: ``defer_s``, or infinite while held back; its CPU time then holds back the next."""
        with self._lock:
            now = self.clock()
            held = now < self._free_at
        start = self.cpu()
        judge(math.inf if held else defer_s)
        spent = self.cpu() - start
        with self._lock:
            self._free_at = max(self._free_at, now) + spent / self.share


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
        # run path -> flattened config (dotted key -> value text), for the list filter; built in the
        # worker, swapped whole (the UI only reads it and never sees a dict being filled)
        self.configs: dict[str, dict[str, str]] = {}
        self._config_src: dict[str, object] = {}  # run path -> the config dict flattened last
        self._last_steps: tuple[str, int, dict[str, int]] | None = None  # (path, table version, steps)
        self.board: AlertBoard | None = None  # the alert rules; created in the worker by full()
        self.pacer = JudgePacer(JUDGE_SHARE)  # how often runs off screen are judged again
        self.cpu: ClockFn = time.thread_time  # this thread's CPU seconds (a test seam)
        self.summaries_cpu = 0.0  # CPU seconds the last resummarise took to summarise (judging apart)
        self._read_at: dict[str, float] = {}  # run path -> when a refresh last summarised it (recent ones)
        # (focus, folder, its versions, status, note), the alerts list it took, the snapshot of them
        self._snapshot: tuple[tuple, list[Alert], RunSnapshot] | None = None
        self.snapshots_built = 0  # test seam: snapshots built anew (not the last one reused)
        self._full_done = False  # the full read finished: snapshots need not read their run first
        self._hold_until = 0.0  # monotonic time until which the full read leaves the CPU to an opened run
        self._snap_lock = threading.Lock()  # the last snapshot (built by the load and follow workers)

    def quick(self) -> list[RunSummary]:
        """Summaries from each file's tail only: fast, for the first paint."""
        from runner.runs.quick import quick_scan

        return quick_scan(self.roots, status_source())

    def full(self) -> list[RunSummary]:
        """Read every run folder completely. The store is there from the start: a run opened meanwhile
        is read ahead of the others (see :meth:`snapshot`); a run opened before it started is read and drawn
        before the discovery (~0.1 s of the interpreter per 1,000 runs)."""
        from runner.runs import coldread, residency

        self._yield_to_open()
        store = self._open_store()
        # the runs are judged as they are read, a few at a time, while their tables are in memory: judged
        # after the scan, the tables evicted meanwhile (past the budget) were all read back (1,000 runs:
        # ~0.2-0.3 s CPU). A few at a time: the rules cost ~15% more judging one run between two reads.
        budget = (store.tables or residency.default()).budget
        batch = FULL_JUDGE_BATCH if not budget or budget >= FULL_JUDGE_BATCH_BUDGET else 1
        pending: list[RunSummary] = []

        def judge(summary: RunSummary | None) -> None:
            if summary is not None:
                pending.append(summary)
            if pending and (summary is None or len(pending) >= batch):
                with self._lock:
                    self._judge(store, pending)
                pending.clear()

        # with a cold reader at work, the runs it has read (or never will) are taken from the back meanwhile
        ready = coldread.done_by_reader if coldread.started() else None
        summaries = list(store.scan(pause=self._yield_to_open, each=judge, ready=ready))
        judge(None)  # the last few
        with self._lock:
            self._index_configs(store, summaries, {})
            self._judge(store, [s for s in summaries if s.removed])  # their alerts go
            self._full_done = True
            return summaries

    def _yield_to_open(self) -> None:
        """Between two runs of the full read: wait while a run just opened is read and drawn (on 2 cores
        shared by the UI, the opened run's reader and the full read, the first two would otherwise get a
        third of the interpreter each)."""
        end = min(self._hold_until, time.monotonic() + OPEN_HOLD_S)
        while time.monotonic() < min(end, self._hold_until):  # ends early once the chart is out (shown)
            time.sleep(HOLD_STEP_S)

    def opening(self) -> None:
        """A run is being opened (the UI thread, at the key): the full read holds from now on."""
        if not self._full_done:
            self._hold_until = time.monotonic() + OPEN_HOLD_S

    def shown(self) -> None:
        """The run opened shows its chart (the UI thread): the full read goes on at once, not after the
        rest of ``OPEN_HOLD_S``."""
        self._hold_until = 0.0

    def _open_store(self) -> RunStore:
        from runner.runs.store import RunStore

        with self._lock:
            if self._store is None:
                self._store = RunStore(self.roots, status_source())
            return self._store

    def refresh(self, changed: set[Path]) -> list[RunSummary]:
        """Re-read the run folders in ``changed`` (new bytes only) and return all summaries."""
        with self._lock:
            assert self._store is not None
            summaries = list(self._store.refresh(changed))
            self._index_configs(self._store, summaries, self.configs)
            self._judge(self._store, summaries, JUDGE_EVERY_S)
            now = self.pacer.clock()
            recent = {path: t for path, t in self._read_at.items() if now - t < READ_FRESH_S}
            self._read_at = recent | {s.path: now for s in summaries if not s.removed}  # swapped whole
            return summaries

    def _judge(self, store: RunStore, summaries: list[RunSummary], defer_s: float = 0.0) -> None:
        """Run the alert rules on the runs in ``summaries`` and write their flags into them; runs off
        screen judged less than ``defer_s`` ago keep their alerts until a later call (the timer's)."""
        if self.board is None:
            from runner.alerts.board import AlertBoard
            from runner.paths import workspace_for

            self.board = AlertBoard(workspace_for(self.roots))
        focus, board = self.focus, self.board
        urgent = (focus.path,) if focus else ()
        if not defer_s:  # the full read: every run it read, at once
            board.judge(store, summaries, urgent=urgent)
            return
        self.pacer.run(defer_s, lambda defer: board.judge(store, summaries, defer_s=defer, urgent=urgent))

    @property
    def store(self) -> RunStore | None:
        """The live run store (None before the full read): thread-safe, read by other views' workers."""
        return self._store

    @property
    def alerts(self) -> dict[str, list[Alert]] | None:
        """Every judged run's alerts (a new dict whenever one changed); None before the full read."""
        return self.board.alerts if self.board is not None else None

    def acknowledge(self, alert: Alert) -> dict[str, list[Alert]]:
        """Keep ``alert`` acknowledged on disk; the alerts with it marked."""
        assert self.board is not None
        return self.board.acknowledge(alert)

    def _index_configs(self, store: RunStore, summaries: list[RunSummary], known: dict) -> None:
        """Flatten the config of each run in ``summaries`` (read runs only: config.json is cached)."""
        configs = dict(known)
        for summary in summaries:
            folder = store.get(summary.path) if not summary.removed else None
            if folder is None:
                configs.pop(summary.path, None)
                self._config_src.pop(summary.path, None)
                continue
            config = folder.config  # the same dict until config.json changes
            if self._config_src.get(summary.path) is not config or summary.path not in configs:
                configs[summary.path] = flatten_config(config)
                self._config_src[summary.path] = config
        self.configs = configs

    def resummarise(self, every: bool = False) -> list[RunSummary]:
        """Known runs' summaries again without re-reading files: supervisor statuses (their state files live
        outside the watched folders) and "ago"/stale move on a timer. Runs a refresh summarised less than
        ``READ_FRESH_S`` ago are left out, unless ``every`` (after an action or an acknowledgement)."""
        store = self._store  # RunStore and RunFolder lock themselves: refreshes need not wait
        if store is None:
            return []
        now, read_at = self.pacer.clock(), self._read_at
        fresh = set() if every else {path for path, t in read_at.items() if now - t < READ_FRESH_S}
        start = self.cpu()
        summaries = store.summaries(skip=fresh)
        self.summaries_cpu = self.cpu() - start  # the timer's pace (judging keeps its own: JudgePacer)
        self._judge(store, summaries, JUDGE_EVERY_S)  # the time rules (stalled), supervisor states
        return summaries

    def known_paths(self) -> set[str]:
        """The paths of every run the store knows (empty before the full read)."""
        store = self._store
        return {str(run.path) for run in store.runs()} if store is not None else set()

    def watch(self, stop: threading.Event) -> Iterator[set[Path]]:
        """Batches of changed run folders until ``stop`` is set: the open run's at once, the others'
        gathered and handed on together, at most every ``OFF_SCREEN_EVERY_S`` (see :class:`ChangeBatcher`)."""
        from runner.runs.watch import watch_changes

        batcher = ChangeBatcher(OFF_SCREEN_EVERY_S, OFF_SCREEN_PER_RUN_S)

        def step_ms() -> int:
            return WATCH_STEP_OPEN_MS if self.focus else WATCH_STEP_LIST_MS

        for changed in watch_changes(self.roots, stop, idle=True, step_ms=step_ms):
            key = os.path.abspath(self.focus.path) if self.focus else None
            ready = batcher.take(changed, key)
            shown = {p for p in ready if os.path.abspath(p) == key}
            for part in (shown, ready - shown):  # the open run first, on its own: it is drawn at once
                if part:
                    yield part

    def read_ahead(self, path: str) -> None:
        """Before the full read: the run at ``path`` (the list's first row) read and its first snapshot built,
        so that Enter on it right after the first paint finds them ready; holds nothing, fails quietly (the
        snapshot asked for at Enter says what is wrong)."""
        if self._full_done:
            return
        try:
            self.snapshot(Focus(path, ()), hold=False)
        except Exception:  # noqa: BLE001 - see above
            pass

    def snapshot(self, focus: Focus | None = None, hold: bool = True) -> RunSnapshot | None:
        """The focused run's detail and the series of its charted keys (None if not loaded): the last
        snapshot again (the same object) unless the focus, the run's files or its status changed. During
        the full read the run is read ahead of it, which holds (``hold``) while the run is drawn."""
        focus = focus or self.focus
        if focus is None:
            return None
        if not self._full_done:  # opened during the full read: read this run now, ahead of the rest
            if hold:
                self._hold_until = time.monotonic() + OPEN_HOLD_S
            folder = self._open_store().read_now(Path(focus.path))  # never waits for the full read
        else:
            folder = self._store.get(Path(focus.path)) if self._store is not None else None
        if folder is None:
            return None
        with self._snap_lock:  # not the follower's lock: the full read holds that while it judges
            alerts = (self.alerts or {}).get(focus.path) or _NO_ALERTS  # the same list while unchanged
            summary = folder.summary()  # status and note move without the files (supervisor, errors)
            key = (focus, folder, folder.versions(), summary.status, summary.note)
            last = self._snapshot
            if last is not None and last[0] == key:
                if last[1] is alerts:
                    return last[2]
                snap = replace(last[2], alerts=list(alerts))  # only the alerts changed: no re-read
            else:
                snap = self._build(focus, folder, alerts)
            self._snapshot = (key, alerts, snap)
            return snap

    def _build(self, focus: Focus, folder: RunFolder, alerts: list[Alert]) -> RunSnapshot:
        """A new snapshot of ``folder`` (counted in ``snapshots_built``, the test seam)."""
        self.snapshots_built += 1
        detail = folder.detail()
        keys = focus.keys or default_chart_keys(detail)  # a run just opened: the chart it will ask for
        series = {key: series_of(folder.table, key) for key in keys}
        steps = self._steps_of(focus.path, folder.table)
        return RunSnapshot(focus.path, detail, series, last_steps=steps, alerts=list(alerts))

    def _steps_of(self, path: str, table: MetricTable) -> dict[str, int]:
        """Each key's latest step, recomputed only when the run's table changed."""
        cached = self._last_steps
        if cached is None or cached[:2] != (path, table.version):
            cached = (path, table.version, last_steps(table))
            self._last_steps = cached
        return cached[2]


_NO_ALERTS: list[Alert] = []  # never changed: snapshots take a copy


def default_chart_keys(detail: RunDetail) -> tuple[str, ...]:
    """The keys the run view charts first (its ``_default_keys``): the headline, else the first number.
    A run's first snapshot carries their series, so opening a run needs one round trip, not two."""
    head = detail.summary.headline_key
    if head and head in detail.metric_keys:
        return (head,)
    numeric = [k for k, v in detail.summary.latest.items() if isinstance(v, int | float) and k != "step"]
    return tuple(numeric[:1])


ClockFn = Callable[[], float]


def clock_from_env() -> ClockFn | None:
    """``TINKERTOP_FROZEN_NOW=<epoch>`` freezes the app's clock (for snapshots)."""
    frozen = os.environ.get("TINKERTOP_FROZEN_NOW")
    if not frozen:
        return None
    value = float(frozen)
    return lambda: value
