"""``tinkertop alerts`` and ``tinkertop watch``: the headless twins of the alerts view.

Settings come from ``tinkertop.toml`` in the workspace (``runner.paths.workspace_for``: the folder holding
``results/logs`` when that is what is judged, else the current folder, as in the app); acks from
``.tinkertop/acks.json`` beside it. JSON output: one object per alert per line, written like
``tinkertop ls --json`` (``runner.runs.cli.dump_json``: non-finite numbers as the strings
``"NaN"``/``"Infinity"``, U+2028/U+2029 escaped). A run whose rules fail is named on stderr and the
other runs are judged as usual (as in the app); ``--fail-on`` then exits 1, that run being unjudged.
"""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runner.alerts.alert import LEVEL, Alert

TICK_S = 30.0  # watch: re-judge the time rules (stalled) this often without file changes
FIELDS = ("run_path", "rule", "severity", "metric", "first_step", "last_step", "value", "threshold", "window",
          "message", "flag", "active", "acked")  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    al = subparsers.add_parser(
        "alerts", help="every alert for the runs below folders (default: the workspace)"
    )
    al.add_argument("paths", nargs="*", metavar="PATH", help="folders to search (default: results/logs)")
    al.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    al.add_argument(
        "--fail-on",
        choices=("warning", "critical"),
        help="exit 1 when an unacked alert this bad exists (or a run could not be judged)",
    )
    al.add_argument(
        "--explain",
        action="store_true",
        help="print every rule with its thresholds and exit (with --json: one object)",
    )
    al.set_defaults(func=cmd_alerts)
    w = subparsers.add_parser("watch", help="follow runs and print (and notify) each alert as it fires")
    w.add_argument("paths", nargs="*", metavar="PATH", help="folders to watch (default: results/logs)")
    w.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    w.set_defaults(func=cmd_watch)


def alert_row(a: Alert) -> dict[str, Any]:
    row = {k: v for k, v in asdict(a).items() if k in FIELDS}
    row["key"] = a.key
    return row


def dump(a: Alert) -> str:
    from runner.runs.cli import dump_json

    return dump_json(alert_row(a))


def explain_row(settings: Any) -> dict[str, Any]:
    """``alerts --explain --json``: the settings file, each rule's state and thresholds, the overrides."""
    rules = {name: {"enabled": settings.enabled(name), **{k: v for k, v in params.items() if k != "enabled"}}
             for name, params in settings.rules.items()}  # fmt: skip
    overrides = [
        {"metric": ov.metric, "rule": ov.rule, "values": dict(ov.values)} for ov in settings.overrides
    ]
    return {"settings": str(settings.source), "rules": rules, "overrides": overrides}


def judge_run(engine: Any, run: Any, summary: Any = None) -> tuple[list[Alert] | None, str]:
    """``run``'s alerts and "", or None and why its rules failed: one run never takes down the others
    (as ``AlertBoard.judge`` does in the app)."""
    try:
        return list(engine.evaluate(run, summary=summary)), ""
    except Exception as exc:  # noqa: BLE001 - isolation: the other runs are still judged
        return None, f"tinkertop: {run.path}: alert rules failed: {exc!r}"


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def format_alert(a: Alert) -> str:
    steps = (
        "-"
        if a.first_step is None
        else f"{a.first_step}" + ("" if a.last_step == a.first_step else f"-{a.last_step}")
    )
    marks = ("" if a.active else " [ended]") + (" [acked]" if a.acked else "")
    return f"{a.severity:8} {a.rule:16} {Path(a.run_path).name}  step {steps}  {a.flag}{marks}: {a.message}"


def _setup(args: argparse.Namespace) -> tuple[Any, Any, list[Path]] | int:
    from runner.alerts.acks import AckStore
    from runner.alerts.engine import AlertEngine
    from runner.alerts.settings import SettingsError, load_settings
    from runner.paths import default_roots, workspace_for

    missing = [p for p in args.paths if not Path(p).exists()]
    for p in missing:
        print(f"tinkertop: no such file or folder: {p}", file=sys.stderr)
    if missing:
        return 2
    roots = [Path(p) for p in args.paths] or default_roots()
    workspace = workspace_for(roots)  # the app's too: the same settings and acks
    try:
        settings = load_settings(workspace)
    except SettingsError as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return 2
    return settings, AlertEngine(settings, AckStore(workspace)), roots


def cmd_alerts(args: argparse.Namespace) -> int:
    from runner.alerts.engine import explain
    from runner.api import status_source
    from runner.runs.cli import _emit, dump_json
    from runner.runs.store import RunStore

    setup = _setup(args)
    if isinstance(setup, int):
        return setup
    settings, engine, roots = setup
    if args.explain:
        _emit([dump_json(explain_row(settings))] if args.json else explain(settings))
        return 0
    store = RunStore(roots, status_source())
    summaries = {s.path: s for s in store.scan()}
    judged = [judge_run(engine, run, summaries.get(str(run.path))) for run in store.runs()]
    for _, error in judged:
        if error:
            _warn(error)
    alerts = [a for found, _ in judged if found for a in found]
    if args.json:
        _emit([dump(a) for a in alerts])
    else:
        _emit([format_alert(a) for a in alerts] or ["no alerts"])
    failed = any(found is None for found, _ in judged)
    if args.fail_on and (failed or any(a.level >= LEVEL[args.fail_on] and not a.acked for a in alerts)):
        return 1
    return 0


class _Watcher:
    """The watch loop: file batches from the follower thread, a tick for the time rules."""

    def __init__(self, store: Any, engine: Any, notifier: Any, as_json: bool) -> None:
        self.store, self.engine, self.notifier, self.as_json = store, engine, notifier, as_json
        self.announced: dict[str, dict[str, int]] = {}  # run -> alert key -> level announced
        self.errors: dict[str, str] = {}  # run -> why its rules failed last time (said once)

    def judge(self, runs: list[Any], notify: bool) -> None:
        for run in runs:
            alerts, error = judge_run(self.engine, run)
            if error != self.errors.get(str(run.path), ""):
                self.errors[str(run.path)] = error
                if error:
                    _warn(error)
            if alerts is None:
                continue  # judged again on its next change or tick
            before = self.announced.get(str(run.path), {})
            now = {a.key: max(a.level, before.get(a.key, 0)) for a in alerts}
            for a in reversed(alerts):  # oldest first
                if a.acked or before.get(a.key, 0) >= a.level or not (notify or a.active):
                    continue
                self.emit(a, notify)
            self.announced[str(run.path)] = now

    def emit(self, a: Alert, notify: bool) -> None:
        line = dump(a) if self.as_json else format_alert(a)
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        if notify:
            self.notifier.send(a)


def cmd_watch(args: argparse.Namespace) -> int:
    from runner.alerts.notify import Notifier
    from runner.api import status_source
    from runner.runs.store import RunStore
    from runner.runs.watch import watch_changes

    setup = _setup(args)
    if isinstance(setup, int):
        return setup
    settings, engine, roots = setup
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())  # handlers only record the signal
    store = RunStore(roots, status_source())
    store.scan()
    watcher = _Watcher(store, engine, Notifier(settings.notify_urls, settings.bell), args.json)
    watcher.judge(store.runs(), notify=False)  # what is already wrong: printed once, not sent
    if not args.json:
        print(
            f"watching {len(store.runs())} run(s) below {', '.join(map(str, roots))}; Ctrl-C stops",
            flush=True,
        )
    batches: queue.Queue[set[Path]] = queue.Queue()
    follower = threading.Thread(target=_follow, args=(watch_changes, roots, stop, batches), daemon=True)
    follower.start()
    last_tick = time.monotonic()
    while not stop.is_set():
        try:
            changed: set[Path] | None = batches.get(timeout=1.0)
        except queue.Empty:
            changed = None
        if changed:
            runs = []
            for summary in store.refresh(changed):
                if summary.removed:
                    engine.forget(summary.path)
                    watcher.announced.pop(summary.path, None)
                    watcher.errors.pop(summary.path, None)
                elif summary.path in store:
                    runs.append(store.get(summary.path))
            watcher.judge(runs, notify=True)
        if time.monotonic() - last_tick >= TICK_S:
            last_tick = time.monotonic()
            watcher.judge(store.runs(), notify=True)
    follower.join(timeout=5)
    return 0


def _follow(watch_changes: Any, roots: list[Path], stop: threading.Event, out: queue.Queue) -> None:
    try:
        for batch in watch_changes(roots, stop):
            out.put(batch)
    except Exception as exc:  # the follower died: say so and stop the loop rather than hang silently
        print(f"tinkertop watch: file follower failed: {exc}", file=sys.stderr)
        stop.set()
