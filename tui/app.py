"""The Textual app: screens, app-wide bindings, the follow worker, ``run_app``."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.worker import get_current_worker

from runner.alerts.alert import Alert
from runner.api import PendingRuns
from runner.keymap import KeymapError, load_keymap
from runner.paths import workspace_for
from runner.runs.snapshot import RunSnapshot
from runner.runs.summary import RunSummary
from tui.args import parse_args, roots_of
from tui.bench_hook import Hook
from tui.commands import RunCommands
from tui.follow import Focus, Follower, clock_from_env
from tui.messages import RunLoaded, RunsRefreshed
from tui.prefetch import QuickScanChild, first_summaries
from tui.screens.help import binding_ids, help_for, keys_taken
from tui.screens.runs import RunsScreen
from tui.startup import FIRST_PAINT_WAIT, OPENING_MAX_S, StartupStaging

if TYPE_CHECKING:
    from rich.console import RenderableType

    from tui.screens.alerts import AlertsScreen
    from tui.screens.run_view import RunViewScreen

# summarising the runs again on the timer takes at most 0.5% of a core (its CPU time): with 1,000 runs, ~900 of
# them idle, every ~5 s instead of every 2 s
RESUMMARISE_COST_FACTOR = 200.0
RESUMMARISE_S = 2.0  # supervisor statuses (outside the watched folders) are re-read this often


class TinkertopApp(StartupStaging):
    """Runs list and run view over the run folders below ``roots``."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "tinkertop"
    COMMANDS = App.COMMANDS | {RunCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit (runs go on)", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("1", "show_runs", "Runs", show=False, id="app.runs"),
        Binding("2", "show_run", "Run view", show=False, id="app.run_view"),
        Binding("3", "show_rollouts", "Rollouts", show=False, id="app.rollouts"),
        Binding("4", "show_compare", "Compare", show=False, id="app.compare"),
        Binding("5", "show_alerts", "Alerts", show=False, id="app.alerts"),
    ]

    def __init__(
        self,
        roots: Sequence[Path],
        now: Callable[[], float] | None = None,
        initial: list[RunSummary] | None = None,
        rest: Callable[[], list[RunSummary] | None] | None = None,
        found: int | None = None,
    ) -> None:
        """``initial``: quick summaries read before the app started (else the worker reads them); ``rest``
        (blocking): the quick summaries of the others of the ``found`` runs, added once the list painted
        (None: it failed, the full read brings them)."""
        super().__init__()
        self._init_startup()
        self.initial = initial
        self._rest = rest
        self.found = found  # runs known to exist while the list holds fewer (the title says so)
        self.roots = [Path(r) for r in roots]
        self.follower = Follower(self.roots)
        self.pending = PendingRuns(self.roots)  # records with no folder yet (queued, early failures)
        self.hook = Hook()
        self._clock = now or clock_from_env()
        self._stop = threading.Event()
        self.follow_stopped = threading.Event()  # set when the follow worker's loop has ended
        self.runs_screen = RunsScreen()
        self.summaries: dict[str, RunSummary] = {}
        self.loaded = False  # the full read has been shown
        self.alerts: dict[str, list[Alert]] = {}  # run path -> its alerts (judged in the worker)
        self.alert_seen: dict[str, float] = {}  # alert key -> when the app first saw it (newest first)
        self._next_resummary = 0.0
        self.keys_loaded = threading.Event()  # set once tinkertop.toml's [keys] are applied (or absent)
        self._shown: tuple[object, RunSnapshot] | None = None  # the run view and the snapshot it shows
        self._gc_held = False  # the cyclic GC is off while a run opens (see open_run)

    def now(self) -> float:
        """Wall clock, or the frozen one (``now=`` or ``TINKERTOP_FROZEN_NOW``)."""
        return self._clock() if self._clock else time.time()

    def on_mount(self) -> None:
        if self.initial is not None:  # the list's first paint shows them (no extra render pass)
            self._merge(self.initial, "quick")
        self.push_screen(self.runs_screen)
        if self._rest is not None:
            self.take_rest(self._rest)
        self.follow_runs()
        self.set_interval(RESUMMARISE_S, self.resummarise_runs)
        self.load_keys()

    # --- key remapping ----------------------------------------------------------
    @work(thread=True, group="load-keys", exit_on_error=False)
    def load_keys(self) -> None:
        """The ``[keys]`` table of the workspace's ``tinkertop.toml`` as the keymap (the good entries of a
        bad table too; its problems, with file and line, as a notification)."""
        try:
            try:
                keymap = load_keymap(workspace_for(self.roots), binding_ids)
            except KeymapError as exc:
                keymap = exc.keymap
                self._report(f"key remapping: {exc}")
            if keymap and not self._stop.is_set():
                self.call_from_thread(self.set_keymap, keymap)
                lost = keys_taken(keymap)
                if lost:
                    self._report(
                        f"key remapping: {', '.join(lost)} lost its key to a [keys] entry", "warning"
                    )
        finally:
            self.keys_loaded.set()

    # --- the worker -------------------------------------------------------------
    @work(thread=True, group="follow-runs", exclusive=True, exit_on_error=False)
    def follow_runs(self) -> None:
        """Quick tail scan, full read, then one refresh message per batch of changes."""
        worker = get_current_worker()
        follower = self.follower
        try:
            if self.initial is None:
                self.post_message(RunsRefreshed(follower.quick(), None, "quick"))
            self.first_paint.wait(FIRST_PAINT_WAIT)  # let the list paint before the full read
            self.read_ahead()  # Enter needs both: the first row's run (~20 ms), then the run view
            self.import_view()
            summaries = follower.full()
            self.post_message(RunsRefreshed(summaries, follower.snapshot(), "full", follower.alerts))
            if follower.board is not None and follower.board.settings_error:
                self._report(f"alert settings ignored, defaults in force: {follower.board.settings_error}")
            for changed in follower.watch(self._stop):
                if worker.is_cancelled or self._stop.is_set():
                    break
                try:
                    summaries = follower.refresh(changed)
                    self.post_message(
                        RunsRefreshed(summaries, follower.snapshot(), "update", follower.alerts)
                    )
                except Exception as exc:  # noqa: BLE001 - one bad batch must not end following
                    self._report(f"reading {len(changed)} changed run(s) failed: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app stays up
            self._report(f"reading runs failed: {exc!r}")
            raise
        finally:
            self.follow_stopped.set()

    @work(thread=True, group="resummarise-runs", exclusive=True, exit_on_error=False)
    def resummarise_runs(self, every: bool = False) -> None:
        """Statuses from supervisor records and ages, on a timer (no file re-reads); ``every``: at once,
        runs read a moment ago too (after an action on a run: its new status shows without waiting)."""
        if self.loaded and self.is_running and (every or time.monotonic() >= self._next_resummary):
            start = time.monotonic()
            summaries = self.follower.resummarise(every)
            summaries += self.pending.update(self.follower.known_paths())
            # bounded by the summaries' CPU time (not the wall time other threads stretch; judging is paced
            # apart): with many runs (~30 us each) this runs less often than the timer
            self._next_resummary = start + RESUMMARISE_COST_FACTOR * self.follower.summaries_cpu
            self.post_message(
                RunsRefreshed(summaries, self.follower.snapshot(), "update", self.follower.alerts)
            )

    def _report(self, text: str, severity: SeverityLevel = "error") -> None:
        """An error from a worker thread, as a notification (not after quitting)."""
        if not self._stop.is_set():
            self.call_from_thread(self.notify, text, severity=severity, timeout=10, markup=False)

    @work(thread=True, group="load-run", exclusive=True, exit_on_error=False)
    def load_run(self, focus: Focus) -> None:
        """Snapshot one run for the run view (after open or a change of metric keys)."""
        try:
            self.post_message(RunLoaded(self.follower.snapshot(focus)))
        except Exception as exc:  # noqa: BLE001
            self.post_message(RunLoaded(None, error=repr(exc)))

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        if not self.is_running:  # shutting down: the screens are being pruned
            return
        self._merge(message.summaries, message.phase)
        self._alerts_changed(message.alerts)
        if message.phase == "full":
            self.loaded = True
            # what the full read built lives as long as the app: keep the cyclic GC from walking it
            # again and again (its full passes paused the UI for ~0.2 s every few seconds)
            gc.freeze()
            self.hook.loaded()
        self._show_run(message.focus, again=False)

    def _show_run(self, snapshot: RunSnapshot | None, again: bool) -> None:
        """Show ``snapshot`` in the run view; the one it shows already (the same object) only ``again``."""
        view = self._run_view()
        if view is None or snapshot is None:
            return
        shown = self._shown
        if not again and shown is not None and shown[0] is view and shown[1] is snapshot:
            return
        self._shown = (view, snapshot)
        view.apply(snapshot)

    def _merge(self, summaries: list[RunSummary], phase: str) -> None:
        """Fold a batch into the known runs and show them (``removed`` ones leave the list)."""
        self.hook.seen(summaries)
        if phase != "update":
            self.summaries = {s.path: s for s in summaries}
        for s in summaries:
            if s.removed:
                self.summaries.pop(s.path, None)
            else:
                self.summaries[s.path] = s
        self.runs_screen.update_runs(list(self.summaries.values()), live=phase == "update")

    # --- alerts -----------------------------------------------------------------
    def _alerts_changed(self, alerts: dict[str, list[Alert]] | None) -> None:
        """The worker's alerts of every run (a new map, swapped whole); show them where shown."""
        if alerts is None or alerts is self.alerts:
            return
        self.alerts = alerts
        now, before = self.now(), self.alert_seen
        # alerts that are gone (their run deleted, its file rewritten) are forgotten here too
        self.alert_seen = {
            a.key: before.get(a.key, now) for run_alerts in alerts.values() for a in run_alerts
        }
        screen = self._alerts_screen()
        if screen is not None:
            screen.show()

    def all_alerts(self) -> list[Alert]:
        """Every run's alerts, newest first: those the app saw appear first on top; among alerts seen in
        the same read (the first full read), the run that changed last, then the latest step, the worst."""
        every = [a for run_alerts in self.alerts.values() for a in run_alerts]
        seen, runs = self.alert_seen, self.summaries

        def newest(a: Alert) -> tuple[float, float, int, int]:
            run = runs.get(a.run_path)
            changed = run.last_change if run is not None and run.last_change is not None else 0.0
            step = a.first_step if a.first_step is not None else -1
            return (-seen.get(a.key, 0.0), -changed, -step, -a.level)

        return sorted(every, key=newest)

    @work(thread=True, group="acknowledge", exit_on_error=False)
    def acknowledge(self, alert: Alert) -> None:
        """Keep ``alert`` acknowledged on disk (until it fires again, worse) and show it so."""
        try:
            self.follower.acknowledge(alert)
        except OSError as exc:
            self._report(f"acknowledging failed: {exc}")
            return
        summaries = self.follower.resummarise(every=True)
        self.post_message(RunsRefreshed(summaries, self.follower.snapshot(), "update", self.follower.alerts))
        self.call_from_thread(self.notify, f"acknowledged: {alert.flag} ({alert.rule})", markup=False)

    def _alerts_screen(self) -> AlertsScreen | None:
        from tui.screens.alerts import AlertsScreen

        return next((s for s in self.screen_stack if isinstance(s, AlertsScreen)), None)

    def action_show_alerts(self) -> None:
        from tui.screens.alerts import AlertsScreen

        if isinstance(self.screen, AlertsScreen) or not self.browsing():
            return
        self.close_run()
        self.push_screen(AlertsScreen())

    def action_show_compare(self) -> None:
        if self.browsing():
            self.open_compare(self.runs_screen.compare_paths())

    def open_compare(self, paths: list[str]) -> None:
        """The compare view (4) of ``paths``: the marked runs, see ``RunsScreen.compare_paths``."""
        from tui.screens.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            return
        if len(paths) < 2:
            self.notify("mark the runs to compare with space (A: all shown), then c", markup=False)
            return
        self.close_run()
        self.push_screen(CompareScreen(paths))

    def on_run_loaded(self, message: RunLoaded) -> None:
        if message.error:
            self.notify(f"loading the run failed: {message.error}", severity="error")
        self._show_run(message.snapshot, again=True)  # asked for: a new view may not show it yet

    # --- navigation -------------------------------------------------------------
    def _run_view(self) -> RunViewScreen | None:
        from tui.screens.run_view import RunViewScreen

        for screen in self.screen_stack:
            if isinstance(screen, RunViewScreen):
                return screen
        return None

    def open_run(self, path: str, alert: Alert | None = None) -> None:
        """Push the run view for ``path`` and load it in a worker; ``alert``: open its chart at it."""
        self.follower.opening()  # the full read holds from the key on, not from the worker's start
        self.opening_run()  # and the start-up's other steps (before the import: it may be under way)
        from tui.screens.run_view import RunViewScreen

        if gc.isenabled():  # a full GC pass over what the full read built takes ~50 ms: not now
            gc.disable()
            self._gc_held = True
        self.set_timer(OPENING_MAX_S, self._resume_gc)
        if self._run_view() is not None:
            self.close_run()
        self.push_screen(RunViewScreen(path, alert=alert) if alert is not None else RunViewScreen(path))
        self.focus_run(path, [alert.metric] if alert is not None else [])

    def run_shown(self) -> None:
        """The run view just opened shows its chart (hook line ``charted``): the cyclic GC runs again."""
        self.hook.mark("charted")
        self._resume_gc()
        self.follower.shown()  # the full read, held from Enter, goes on

    def _resume_gc(self) -> None:
        """The cyclic GC paused by :meth:`open_run` runs again (at the latest ``OPENING_MAX_S`` after); the
        start-up steps held meanwhile go on."""
        if self._gc_held:
            self._gc_held = False
            gc.enable()
        self.run_opened()

    def focus_run(self, path: str, keys: Sequence[str]) -> None:
        """The run view shows ``path`` with ``keys`` charted: follow them."""
        focus = Focus(path, tuple(keys))
        self.follower.focus = focus
        self.load_run(focus)

    def close_run(self) -> None:
        """Back to the runs list from the run view and the alerts view (never past a form or a modal)."""
        from tui.screens.alerts import AlertsScreen
        from tui.screens.compare import CompareScreen
        from tui.screens.rollouts import RolloutsScreen
        from tui.screens.run_view import RunViewScreen

        self.follower.focus = None
        while isinstance(self.screen, RunViewScreen | AlertsScreen | RolloutsScreen | CompareScreen):
            self.pop_screen()

    def browsing(self) -> bool:
        """The top screen is one of the views: the number keys switch views only then, so a launch form
        or a confirmation on top is never thrown away by a stray digit."""
        from tui.screens.alerts import AlertsScreen
        from tui.screens.compare import CompareScreen
        from tui.screens.rollouts import RolloutsScreen
        from tui.screens.run_view import RunViewScreen

        views = RunsScreen | RunViewScreen | AlertsScreen | RolloutsScreen | CompareScreen
        return isinstance(self.screen, views)

    def action_show_runs(self) -> None:
        if self.browsing():
            self.close_run()

    def action_show_run(self) -> None:
        if self.browsing() and self._run_view() is None:
            self.runs_screen.action_open_run()

    def action_show_rollouts(self) -> None:
        """The rollouts view of the run the screen shows (the run view's, the alert's, the list's)."""
        from tui.screens.rollouts import open_rollouts
        from tui.screens.run_actions import RunControlMixin

        screen = self.screen
        path = screen.control_path() if isinstance(screen, RunControlMixin) else None
        if path is not None and self.browsing():
            open_rollouts(self, path)

    def action_help(self) -> None:
        """Keys of this screen, the app and the focused widget, from their binding tables."""
        self.push_screen(help_for(self))

    # --- shutdown ---------------------------------------------------------------
    def exit(
        self, result: int | None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        """Quit the app; runs are separate processes and go on."""
        self._stop.set()
        self.first_paint.set()
        self._open_done.set()
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        self._stop.set()
        self.first_paint.set()
        self._resume_gc()  # a run opened just before quitting: its timer dies with the app


def run_app(argv: Sequence[str], prefetch: QuickScanChild | None = None) -> int:
    """Entry point for ``tinkertop [FOLDER ...]``; ``prefetch``: a quick scan already under way."""
    args = parse_args(argv)
    roots = roots_of(args)
    missing = [str(r) for r in roots if not r.exists()]
    if missing and len(missing) == len(roots) and args.folders:
        print(f"tinkertop: no such folder: {', '.join(missing)}")
        return 2
    # the tails of the runs at the top of the list are read before the app starts (in a forked child while
    # Textual was imported, or here): nothing competes with them for the GIL; the child's others come after
    initial, child = first_summaries(prefetch, roots)
    if initial is None:
        from runner.api import status_source
        from runner.runs.quick import quick_scan

        initial = quick_scan(roots, status_source())
    if child is None:
        app = TinkertopApp(roots, initial=initial)
    else:  # the others are unpickled only when no run is opening
        app = TinkertopApp(roots, initial=initial, rest=lambda: child.rest(app.wait_open), found=child.found)
    app.run()
    return app.return_code or 0
