"""``tinkertop demo``: launch the live demo (real recipe runs on the embedded backend), then open
the app on its workspace. ``--no-app`` only launches and prints the run folders; ``--stop`` stops
the demo runs. The launching itself is headless, in ``runner.demo``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tinkertop demo",
        description="Start the embedded backend, launch (through the runner, --local) three RL runs "
        "(arithmetic env, three learning rates, one too high) and one SFT run, then open the app on them.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="folder for the demo run folders (default results/demo/logs)",
    )
    parser.add_argument("--no-app", action="store_true", help="launch the runs, print their folders, exit")
    parser.add_argument("--stop", action="store_true", help="stop the demo runs started earlier")
    parser.add_argument(
        "--json", action="store_true", help="headless (no app): one JSON line per run started (or stopped)"
    )
    return parser.parse_args(list(argv))


def run_demo(argv: Sequence[str]) -> int:
    """Entry point for ``tinkertop demo``."""
    from runner import demo

    args = parse_args(argv)
    if args.json:
        return demo.json_main(args.stop, args.workspace)
    if args.stop:
        stopped = demo.stop_demo()
        print(f"stopped {len(stopped)} demo run(s)" + "".join(f"\n  {r.path}" for r in stopped))
        return 0
    workspace = args.workspace or demo.DEFAULT_WORKSPACE
    print(
        "tinkertop demo: preparing the backend and the tiny model (the first time builds the tiny model: a minute or two) ..."
    )
    try:
        started = demo.start_demo(workspace, say=lambda line: print(f"tinkertop demo: {line}", flush=True))
    except Exception as exc:  # a clear message beats a traceback for a demo
        print(f"tinkertop demo: could not start: {exc}", file=sys.stderr)
        return 1
    for run in started:
        print(f"  {run.name:<16} {run.note}\n  {'':<16} {run.path}  (run {run.run_id})")
    print("supervised runs: K in the app stops one, tinkertop demo --stop stops them all")
    if args.no_app:
        return 0
    return _open_app(workspace)


def _open_app(workspace: Path) -> int:
    try:
        from tui.app import run_app
    except ImportError:
        print(f"the app is not available yet; runs are writing to {workspace}. Ctrl-C to leave.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return run_app([str(workspace)])
