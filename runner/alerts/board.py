"""Every run's alerts, kept up to date: the one place the app (and ``tinkertop ls``) judges runs.

``AlertBoard(workspace).judge(store, summaries)`` evaluates the runs behind ``summaries`` (incremental
per run, see :mod:`runner.alerts.engine`), writes each run's worst unacknowledged alert into its
summary (``alert_flag``, ``alert_severity``) and keeps ``alerts`` (run path -> alerts, newest first),
replaced by a new dict whenever anything in it changed, so a reader holding the old one never sees
it change under it. Settings come from ``tinkertop.toml`` in the workspace; a broken file leaves the
defaults in force and says why in ``settings_error``.

``defer_s`` (the app's): a run judged less than ``defer_s`` seconds ago keeps its alerts until a later
call, unless it is ``urgent`` (the run on screen). A run appending a line a second is then judged once
per ``defer_s`` over all the lines it added (the rules' cost is per evaluation, not per line), and its
flag lags by at most ``defer_s`` plus the caller's period (the app re-judges every run on a timer).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from runner.alerts.acks import AckStore
from runner.alerts.alert import LEVEL, Alert, worst
from runner.alerts.engine import AlertEngine
from runner.alerts.settings import Settings, SettingsError, load_settings
from runner.runs.summary import RunSummary


class AlertBoard:
    """Alerts of the runs of one workspace. Thread-safe."""

    def __init__(self, workspace: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.workspace = Path(workspace)
        self._clock = clock  # for defer_s (a test seam: a fake clock)
        self._judged_at: dict[str, float] = {}  # run path -> when its rules last ran
        self.settings_error = ""
        try:
            settings = load_settings(self.workspace)
        except SettingsError as exc:
            settings, self.settings_error = Settings(), str(exc)
        self.acks = AckStore(self.workspace)
        self.engine = AlertEngine(settings, self.acks)
        self.alerts: dict[str, list[Alert]] = {}
        self._tops: dict[str, tuple[list[Alert], str, str]] = {}  # run path -> (its alerts, flag, severity)
        self._lock = threading.Lock()

    def judge(
        self, store: Any, summaries: Iterable[RunSummary], now: float | None = None,
        defer_s: float = 0.0, urgent: Collection[str] = (),
    ) -> None:  # fmt: skip
        """Judge the runs behind ``summaries`` (a :class:`RunStore`'s) and annotate the summaries; with
        ``defer_s``, runs judged less than that long ago (and not ``urgent``) keep their alerts."""
        with self._lock:
            alerts = self.alerts  # copied on the first change: readers of the old dict see no change
            t = self._clock()
            for summary in summaries:
                run = store.get(summary.path) if not summary.removed else None
                if run is None:
                    self.engine.forget(summary.path)
                    self._judged_at.pop(summary.path, None)
                    self._tops.pop(summary.path, None)
                    found = None
                elif (
                    summary.path not in urgent and t - self._judged_at.get(summary.path, -math.inf) < defer_s
                ):
                    self._annotate(summary, alerts.get(summary.path, _NONE))  # judged a moment ago: later
                    continue
                else:
                    self._judged_at[summary.path] = t
                    try:
                        found = self.engine.evaluate(run, now, summary)
                    except Exception as exc:  # noqa: BLE001 - one run's rules never take down the others
                        note = f"alert rules failed: {exc!r}"
                        summary.note = f"{summary.note}; {note}" if summary.note else note
                        found = []
                    self._annotate(summary, found)
                if alerts.get(summary.path) != found:
                    if alerts is self.alerts:
                        alerts = dict(alerts)
                    if found is None:
                        del alerts[summary.path]
                    else:
                        alerts[summary.path] = found
            self.alerts = alerts

    def _annotate(self, summary: RunSummary, alerts: list[Alert]) -> None:
        """:func:`annotate`, its finding kept per run while the run's alert list is the same list (a run
        unchanged keeps its list: the timer annotates every run every few seconds)."""
        top = self._tops.get(summary.path)
        if top is None or top[0] is not alerts:
            annotate(summary, alerts)
            top = self._tops[summary.path] = (alerts, summary.alert_flag, summary.alert_severity)
        summary.alert_flag, summary.alert_severity = top[1], top[2]

    def acknowledge(self, alert: Alert) -> dict[str, list[Alert]]:
        """Acknowledge ``alert`` on disk and return the alerts with it (and its run) marked."""
        self.acks.acknowledge(alert)
        with self._lock:
            self.alerts = {path: [self.acks.mark(a) for a in found] for path, found in self.alerts.items()}
            return self.alerts


_NONE: list[Alert] = []  # never changed


def annotate(summary: RunSummary, alerts: list[Alert]) -> None:
    """Write the worst unacknowledged warning or critical alert of ``alerts`` into ``summary`` (or clear
    it). Info alerts (slower steps, a single spike) are notes for the alerts view, not flags."""
    top = worst([a for a in alerts if not a.acked and a.level >= LEVEL["warning"]])
    summary.alert_flag = top.flag if top else ""
    summary.alert_severity = top.severity if top else ""
