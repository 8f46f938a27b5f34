"""The alert engine: per-run incremental state, judged again only where the run changed.

``AlertEngine(settings).evaluate(run)`` returns every episode of every rule on that run, newest
first. Metric rules see only the points added since the last call, and the engine copies only the rows
added since plus the columns the rules read (see :mod:`runner.alerts.feed`). What changed under them
starts over: a table reset (a file truncated, replaced or rewritten) starts the run over; lines merged into
rows already judged (an eval line on a train step, a resume logging steps again) start over every
(rule, metric) that had judged that step, and the non-finite scan goes back to that row. File rules
(status, console, disk) are cheap and judged each call, with their episodes kept here so an ongoing
condition stays one alert. A run judged again with nothing changed (no new rows, the same file-rule
findings, no acknowledgement since) gets the very list it got last time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

from runner.alerts import filerules, rules, rules_more
from runner.alerts.acks import AckStore
from runner.alerts.alert import Alert, severity_of, worst
from runner.alerts.episodes import Episode, Tracker
from runner.alerts.feed import Feed
from runner.alerts.series import nonfinite_keys
from runner.alerts.settings import Settings

RULES: tuple[rules.Rule, ...] = (
    rules.NonFinite(),
    rules.KlSampleTrain(),
    rules.KlBase(),
    rules.NoSignal(),
    rules.RewardPinned(),
    rules_more.EntropyCollapse(),
    rules_more.EntropyBlowup(),
    rules_more.LengthCap(),
    rules_more.LengthShift(),
    rules_more.Spike(),
    rules_more.RolloutErrors(),
    rules_more.TrainEval(),
    rules_more.Slow(),
)
MAX_SELECTIONS = 64  # distinct key sets whose rule selection is kept

__all__ = ["RULES", "AlertEngine", "worst"]


@dataclass
class _RunState:
    version: int = -1
    resets: int = -1  # the table's reset count when last judged
    selection: tuple[int, list[tuple[rules.Rule, list[str]]]] = (-1, [])  # (number of keys, rule -> metrics)
    wanted: frozenset[str] = frozenset()  # the keys the selection's rules read, but the non-finite rule's
    nf_rows: int = 0  # rows already scanned for non-finite values
    alerts: dict[tuple, tuple[tuple, Alert]] = field(
        default_factory=dict
    )  # (rule, metric, id(episode)) -> ...
    trackers: dict[tuple[str, str], Tracker] = field(default_factory=dict)
    series_alerts: list[Alert] = field(default_factory=list)
    file_onsets: dict[tuple[str, str], tuple[int | None, int]] = field(default_factory=dict)
    feed: Feed = field(default_factory=Feed)  # new rows, and the columns the rules read, per evaluation
    step_seconds: tuple[int, float | None] = (-1, None)  # (table version, median step seconds)
    # the last result and what it was made of (series alerts, file alerts, acks version): a run judged again
    # with none of them changed gets the same list back, not marked and sorted again
    last: tuple[list[Alert], list[Alert], int, list[Alert]] | None = None


class AlertEngine:
    """Rules over runs, incremental per run. Thread-safe (one lock; evaluation is short)."""

    def __init__(self, settings: Settings | None = None, acks: AckStore | None = None) -> None:
        self.settings = settings or Settings()
        self.acks = acks
        self._state: dict[str, _RunState] = {}
        self._selections: dict[tuple[str, ...], list[tuple[rules.Rule, list[str]]]] = {}
        self._lock = threading.Lock()

    def evaluate(self, run: Any, now: float | None = None, summary: Any = None) -> list[Alert]:
        """Every alert episode of ``run`` (a :class:`RunFolder`), newest first. ``summary``: the run's
        :class:`RunSummary` when the caller has it already (saves recomputing it)."""
        # the run's lock first (the order a caller holding it would take), so the table is one consistent read
        with getattr(run, "lock", contextlib.nullcontext()), self._lock:
            state = self._state.setdefault(str(run.path), _RunState())
            version = _version(run)  # an evicted table is not read back when its version did not move
            if version != state.version:
                table = run.table
                version = table.version  # read first: a later change is seen next time
                merged = table.merged_since(state.version)
                if table.resets != state.resets:  # emptied since (truncated, replaced, rewritten)
                    state.trackers.clear()
                    state.selection, state.nf_rows, state.resets, merged = (-1, []), 0, table.resets, None
                    state.feed.clear()
                elif merged is not None:  # rows already taken in changed: the feed starts over
                    state.feed.clear()
                self._judge_series(run, state, merged)
                state.version = version
            files = self._file_alerts(run, state, now, summary, version)
            state.feed.release()
            acks = self.acks.version if self.acks is not None else 0
            last = state.last
            if last is not None and last[0] is state.series_alerts and last[1] == files and last[2] == acks:
                return last[3]  # nothing changed: the same alerts (one list, not to be changed by callers)
            alerts = state.series_alerts + files
            if self.acks is not None:
                alerts = [self.acks.mark(a) for a in alerts]
            result = sorted(alerts, key=_newest_first)
            state.last = (state.series_alerts, files, acks, result)
            return result

    def acknowledge(self, alert: Alert) -> None:
        """Hide ``alert`` until its rule fires again worse (kept on disk by the engine's :class:`AckStore`)."""
        if self.acks is None:
            raise ValueError("this AlertEngine has no AckStore: AlertEngine(settings, AckStore(workspace))")
        self.acks.acknowledge(alert)

    def forget(self, run_path: str) -> None:
        """Drop a run's state (it was deleted)."""
        with self._lock:
            self._state.pop(str(run_path), None)

    # ---- metric rules ----------------------------------------------------------------------
    def _judge_series(self, run: Any, state: _RunState, merged: tuple[int, int] | None) -> None:
        table, s = run.table, self.settings
        cols = state.feed.advance(table)  # the new rows of every numeric column, one consistent copy
        if merged is not None:
            _start_over_from(state, *merged)
        points = state.feed.points
        ctx = rules.Ctx(s, points, list(cols.values), _config(run))
        if state.selection[0] != len(ctx.keys):  # keys only ever get added (a reset clears the state)
            state.selection = (len(ctx.keys), self._select(ctx))
            state.wanted = frozenset(k for r, ks in state.selection[1] if r.name != "non_finite" for k in ks)
        chosen = [
            (rule, self._nonfinite_candidates(cols, state, keys) if rule.name == "non_finite" else keys)
            for rule, keys in state.selection[1]
        ]
        nf = [k for rule, keys in chosen if rule.name == "non_finite" for k in keys]
        state.feed.want(state.wanted.union(nf) if nf else state.wanted)  # read in one copy
        out: list[Alert] = []
        for rule, keys in chosen:
            for key in keys:
                tracker = state.trackers.get((rule.name, key))
                pts = points(key)
                if tracker is None or not tracker.consistent(pts.steps):
                    rearm = int(s.get(rule.name, "rearm", key, 10))
                    tracker = state.trackers[(rule.name, key)] = Tracker(rearm, rule.direction)
                if len(pts) > tracker.seen:
                    tracker.feed(pts.steps, pts.values, rule.judge(ctx, key, pts, tracker.seen), len(pts))
        memo: dict[tuple, tuple[tuple, Alert]] = {}
        for (rule_name, key), tracker in state.trackers.items():
            rule = _RULE_BY_NAME[rule_name]
            for ep in tracker.episodes:
                sig = (ep.first_step, ep.last_step, ep.level, ep.value, ep.threshold, ep.active, ep.note)
                ident = (rule_name, key, id(ep))
                hit = state.alerts.get(ident)
                alert = hit[1] if hit and hit[0] == sig else self._to_alert(str(run.path), rule, key, ep)
                memo[ident] = (sig, alert)
                out.append(alert)
        state.series_alerts, state.alerts = out, memo

    def _select(self, ctx: rules.Ctx) -> list[tuple[rules.Rule, list[str]]]:
        """Which rules judge which metrics: it depends only on the keys (and the settings), so runs of one
        recipe share it."""
        sig = tuple(ctx.keys)
        chosen = self._selections.get(sig)
        if chosen is None:
            s = self.settings
            chosen = [
                (r, [k for k in r.metrics(ctx) if s.enabled(r.name, k)]) for r in RULES if s.enabled(r.name)
            ]
            if len(self._selections) >= MAX_SELECTIONS:
                self._selections.clear()
            self._selections[sig] = chosen
        return chosen

    @staticmethod
    def _nonfinite_candidates(cols: Any, state: _RunState, keys: list[str]) -> list[str]:
        """The keys the non-finite rule must read: those with a NaN/Inf in the new rows, and those it
        already follows (their episodes need the clean points too to end)."""
        fresh = nonfinite_keys(cols, state.nf_rows)
        state.nf_rows = cols.start + len(cols.steps)
        followed = {k for (r, k) in state.trackers if r == "non_finite"}
        wanted = followed | set(fresh)
        return [k for k in keys if k in wanted]

    def _to_alert(self, path: str, rule: rules.Rule, key: str, ep: Episode) -> Alert:
        message, flag = rule.describe(key, ep, self.settings)
        thr = None if ep.threshold != ep.threshold else ep.threshold
        return Alert(path, rule.name, severity_of(ep.level), key, ep.first_step, ep.last_step, ep.value, thr,
                     rule.window, message, flag, ep.active, rule.direction)  # fmt: skip

    # ---- file rules ------------------------------------------------------------------------
    def _file_alerts(
        self, run: Any, state: _RunState, now: float | None, summary: Any, version: int
    ) -> list[Alert]:
        summary = summary or run.summary()
        facts = filerules.RunFacts(
            path=str(run.path),
            status=summary.status,
            status_source=summary.status_source,
            exit_code=summary.exit_code,
            last_step=summary.step,
            console_tail=run.console_tail(),
            metrics_mtime=_mtime(run),
            step_seconds=_step_seconds(run, state, version) if summary.status == "running" else None,
        )
        fresh = filerules.file_alerts(facts, self.settings, now)
        seen: set[tuple[str, str]] = set()
        out = []
        for a in fresh:
            k = (a.rule, a.metric)
            seen.add(k)
            onset, level = state.file_onsets.get(k, (a.first_step, 0))
            state.file_onsets[k] = (onset, max(level, a.level))
            sev = severity_of(max(level, a.level))
            out.append(dataclasses.replace(a, first_step=onset, severity=sev))
        for k in [k for k in state.file_onsets if k not in seen]:
            del state.file_onsets[k]  # recovered: the next occurrence is a new episode
        return out


_RULE_BY_NAME = {r.name: r for r in RULES}


def _start_over_from(state: _RunState, row: int, step: int) -> None:
    """Lines merged into judged rows from ``row`` (step ``step`` up): every (rule, metric) that judged a
    point at or past that step starts over (a rule may read other metrics, so not only the merged
    keys), its tracker kept in place so the non-finite rule still follows its metric."""
    state.nf_rows = min(state.nf_rows, row)
    for k, t in list(state.trackers.items()):
        if t.seen_step is not None and t.seen_step >= step:
            state.trackers[k] = Tracker(t.rearm, t.direction)


def _version(run: Any) -> int:
    """The run's table version (a :class:`RunFolder` says it without reading back an evicted table)."""
    version = getattr(run, "metrics_version", None)
    return run.table.version if version is None else int(version)


def _step_seconds(run: Any, state: _RunState, version: int) -> float | None:
    """The median step time of the rows judged, kept per table version (a cold run is not read back)."""
    if state.step_seconds[0] != version:
        state.feed.attach(run.table)
        times = state.feed.points("time/total").values
        state.step_seconds = (version, filerules.median_interval(run.table.seen_times, times))
    return state.step_seconds[1]


def _newest_first(a: Alert) -> tuple[int, int]:
    return (-(a.first_step if a.first_step is not None else -1), -a.level)


def _config(run: Any) -> dict | None:
    try:
        cfg = run.config
    except Exception:
        return None
    return cfg if isinstance(cfg, dict) else None


def _mtime(run: Any) -> float | None:
    path = getattr(run.files, "metrics", None)
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


def explain(settings: Settings) -> list[str]:
    """Every rule with its thresholds (after settings), one line each, plus the overrides."""
    lines = [f"settings: {settings.source}"]
    titles = {r.name: r.title for r in RULES}
    titles.update(
        crashed="crashed: non-zero exit, or a traceback at the end of the console log (not a run stopped with K)",
        lost="supervisor lost: the run's supervisor and process are gone",
        stalled="stalled: no new metrics line for max(min_minutes, factor x median step) while running",
        console_warning="a warning that repeats in the console log (retries, rate limits, heartbeats)",
        disk="the log folder's filesystem nearly full (free fraction)",
    )
    for name, params in settings.rules.items():
        state = "on " if settings.enabled(name) else "off"
        knobs = ", ".join(f"{k}={v:g}" for k, v in params.items() if k != "enabled")
        lines.append(f"{state} {name:16} {titles.get(name, '')}" + (f"  [{knobs}]" if knobs else ""))
    for ov in settings.overrides:
        knobs = ", ".join(f"{k}={v}" for k, v in ov.values.items())
        lines.append(f"override {ov.metric}" + (f" (rule {ov.rule})" if ov.rule else "") + f": {knobs}")
    return lines
