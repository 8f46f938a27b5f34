"""``tinkertop backend start|stop|status [--json]``: the embedded backend from the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("backend", help="start, stop or inspect the embedded local backend")
    sub = parser.add_subparsers(dest="backend_command", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start the local backend (detached)")
    start.add_argument("--model", type=Path, help="model directory (default: the tiny local model)")
    start.add_argument("--json", action="store_true", help="print machine-readable output")
    start.set_defaults(func=_start)
    stop = sub.add_parser("stop", help="stop the local backend")
    stop.add_argument("--json", action="store_true", help="print machine-readable output")
    stop.set_defaults(func=_stop)
    status = sub.add_parser("status", help="show whether the backend runs, where, and what it holds")
    status.add_argument("--json", action="store_true", help="print machine-readable output")
    status.set_defaults(func=_status)


def _show(data: dict[str, Any], as_json: bool) -> None:
    data.pop("key", None)
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return
    if data.get("starting"):
        print(f"backend: starting  pid {data.get('pid')}  {data.get('url')}  (not ready yet)")
        print(f"log:     {data.get('log_path')}")
        return
    if not data.get("running"):
        print("backend: not running")
        return
    uptime = data.get("uptime_s") or (time.time() - float(data.get("started_at", time.time())))
    print(f"backend: running  pid {data.get('pid')}  {data.get('url')}  up {uptime:.0f}s")
    print(f"model:   {data.get('model_path')}")
    print(
        f"live sessions {data.get('live_sessions', '?')}  models {data.get('models', '?')}  queued {data.get('queued', '?')}"
    )
    print(f"log:     {data.get('log_path')}")


def _start(args: argparse.Namespace) -> int:
    from runner.backend import control

    try:
        info = control.start(wait=True, model=args.model)
    except control.BackendError as exc:
        print(f"error: {exc}")
        return 1
    _show(dict(control.details(info), running=True), args.json)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from runner.backend import control

    stopped = control.stop()
    if args.json:
        print(json.dumps({"stopped": stopped}))
    else:
        print("backend stopped" if stopped else "backend was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from runner.backend import control

    info = control.status()
    if info is None:
        starting = control.recorded()  # alive and recorded, not answering yet
        shown = dict(starting.public(), starting=True) if starting else {}
        _show(dict(shown, running=False), args.json)
        return 4 if starting else 3
    _show(dict(control.details(info), running=True), args.json)
    return 0
