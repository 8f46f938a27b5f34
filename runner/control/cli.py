"""``tinkertop launch|stop|resume|clone|rm|queue|runs``: registration is cheap, work is imported lazily.

Every command takes ``--json`` (written by ``runner.runs.cli.dump_json``: one line, NaN as ``"NaN"``).
A refused request (a bad reference, a missing confirmation, a run in the wrong state, an invalid launch)
exits 2; an action that was tried and did not happen (a run that could not be stopped, a launch or resume
whose process could not start, a folder that could not be deleted) exits 1; both say why on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runner.runs.cli import dump_json

EXIT_FAILURE = 1
EXIT_USAGE = 2
JSON_HELP = 'print one JSON object (non-finite numbers as "NaN", "Infinity")'


def register(subparsers: Any) -> None:
    _launch(subparsers)
    stop = subparsers.add_parser("stop", help="stop a run: SIGTERM to its process group, grace, SIGKILL")
    stop.add_argument("run", help="run name, id, or folder path")
    stop.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    stop.add_argument("--no-wait", action="store_true", help="return once the stop is requested")
    stop.add_argument("--json", action="store_true", help=JSON_HELP)
    stop.set_defaults(func=cmd_stop)
    resume = subparsers.add_parser("resume", help="relaunch a run from the last checkpoint of its folder")
    resume.add_argument("run", help="run name, id, or folder path")
    resume.add_argument("--json", action="store_true", help=JSON_HELP)
    resume.set_defaults(func=cmd_resume)
    clone = subparsers.add_parser("clone", help="print a run's launch command, to edit and run")
    clone.add_argument("run", help="run name, id, or folder path")
    clone.add_argument("--json", action="store_true", help=JSON_HELP)
    clone.set_defaults(func=cmd_clone)
    rm = subparsers.add_parser(
        "rm",
        help="delete a run's folder and record (confirmation names the run); refuses live or queued runs, "
        "folders holding or inside a live run's folder, and a folder replaced by a symlink",
    )
    rm.add_argument("run", help="run name, id, or folder path")
    rm.add_argument("--yes-delete", metavar="NAME", help="confirm by typing the run's name")
    rm.add_argument("--json", action="store_true", help=JSON_HELP)
    rm.set_defaults(func=cmd_rm)
    q = subparsers.add_parser("queue", help="list queued and live runs; 'queue run' starts queued runs")
    q.add_argument("action", nargs="?", choices=["list", "run"], default="list")
    q.add_argument("--max", type=int, help="set the number of runs at once (saved in settings)")
    q.add_argument("--json", action="store_true", help=JSON_HELP)
    q.set_defaults(func=cmd_queue)
    runs = subparsers.add_parser("runs", help="list the runs tinkertop launched (supervisor records)")
    runs.add_argument("--json", action="store_true", help=JSON_HELP)
    runs.set_defaults(func=cmd_runs)


def _launch_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    d = (lambda v: v) if defaults else (lambda v: None)
    p.add_argument(
        "--name",
        help="run name: one folder name, at most 128 characters (default <recipe>-<time>; a suffix keeps "
        "names unique)",
    )
    p.add_argument(
        "--local", action="store_true", default=d(False), help="run on the embedded local backend (no key)"
    )
    p.add_argument(
        "--smoke", action="store_true", default=d(False), help="add the recipe's tiny sizes (fast smoke run)"
    )
    p.add_argument(
        "--sweep",
        action="append",
        default=[] if defaults else None,
        metavar="key=a,b,c",
        help="one run per value (repeat: cartesian product)",
    )
    p.add_argument(
        "--queue", action="store_true", default=d(False), help="queue the runs (at most N at once)"
    )
    p.add_argument(
        "--dry-run", action="store_true", default=d(False), help="validate and print, start nothing"
    )
    p.add_argument("--json", action="store_true", default=d(False), help=JSON_HELP)
    p.add_argument("--list", action="store_true", default=d(False), help="list the recipe catalogue")
    p.add_argument("--models", action="store_true", default=d(False), help="list the cookbook's model lineup")


def _launch(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "launch",
        help="launch a cookbook recipe (or a chz script/module) as supervised runs",
        usage="tinkertop launch RECIPE [key=value ...] [--name N] [--local] [--sweep key=a,b ...] [--queue] [--dry-run] [--json]",
        description="RECIPE is a catalogue name (see --list), a module (pkg.mod) or a script path. "
        "Overrides are the recipe's own key=value arguments, validated before anything starts.",
    )
    _launch_options(p)
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="RECIPE [key=value ...]")
    p.set_defaults(func=cmd_launch)


def _intermixed(args: argparse.Namespace) -> argparse.Namespace:
    """Options may come after the overrides: parse the remainder again, intermixed."""
    inner = argparse.ArgumentParser(prog="tinkertop launch", add_help=False)
    _launch_options(inner, defaults=False)
    inner.add_argument("recipe", nargs="?")
    inner.add_argument("overrides", nargs="*")
    extra = inner.parse_intermixed_args(args.rest)
    for key, value in vars(extra).items():
        if key == "sweep":
            args.sweep = [*args.sweep, *(value or [])]
        elif value not in (None, False) or not hasattr(args, key):
            setattr(args, key, value)
    return args


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(dump_json(data) if getattr(args, "json", False) else text)


def _fail(msg: str, code: int = EXIT_USAGE) -> int:
    print(f"tinkertop: {msg}", file=sys.stderr)
    return code


def cmd_launch(args: argparse.Namespace) -> int:
    from runner.control import catalogue

    args = _intermixed(args)
    if args.list:
        rows = [r.__dict__ | {"target": r.module} for r in catalogue.RECIPES]
        text = "\n".join(
            f"{r.key:28} {r.kind:8} {'offline' if r.offline else 'online ':8} {r.data}"
            + (f" (needs {', '.join(r.needs)})" if r.needs else "")
            for r in catalogue.RECIPES
        )
        _emit(args, rows, text)
        return 0
    if args.models:
        models = catalogue.models()
        _emit(
            args,
            [m.__dict__ for m in models],
            "\n".join(f"{m.name:55} {m.label:17} {m.size:12} {m.renderer}" for m in models),
        )
        return 0
    if not args.recipe:
        return _fail("launch needs a RECIPE (see tinkertop launch --list)")
    return _do_launch(args)


def _do_launch(args: argparse.Namespace) -> int:
    from runner.control.launch import LaunchError, LaunchRequest
    from runner.control.launcher import execute

    req = LaunchRequest(
        recipe=args.recipe,
        overrides=args.overrides,
        name=args.name,
        local=args.local,
        sweep=args.sweep,
        queue=args.queue,
        smoke=args.smoke,
    )
    try:
        runs, ids = execute(req, args.dry_run)
    except LaunchError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"launch failed: {exc}", EXIT_FAILURE)
    rows = [
        {"run_id": r.run_id, "name": r.name, "log_path": r.log_path, "config": r.config, "notes": r.notes}
        for r in runs
    ]
    from runner.control.creds import redact_obj

    rows = redact_obj(rows)
    verb = "would start" if args.dry_run else ("queued" if args.queue else "started")
    text = "\n\n".join(_describe(r, verb) for r in rows)
    _emit(args, {"dry_run": args.dry_run, "queued": args.queue, "runs": rows, "ids": ids}, text)
    return _launch_failures(ids)


def _launch_failures(ids: list[str]) -> int:
    """Exit 1, naming each, when a run's process could not be started (its record says failed)."""
    from runner.control.launcher import start_failures

    failed = start_failures(ids)
    for line in failed:
        _fail(line, EXIT_FAILURE)
    return EXIT_FAILURE if failed else 0


def _describe(row: dict[str, Any], verb: str) -> str:
    from runner.control.creds import redact

    lines = [f"{verb} {row['name']}  ({row['run_id']})", f"  log_path: {row['log_path']}"]
    lines += [f"  note: {n}" for n in row["notes"]]
    lines.append("  resolved config:")
    lines += [f"    {k} = {redact(json.dumps(v, default=str))}" for k, v in sorted(row["config"].items())]
    return "\n".join(lines)


def _action(args: argparse.Namespace, fn: Any, *a: Any) -> Any:
    """``fn``'s result, or the exit code: 2 when it refused, 1 when it failed (both said on stderr)."""
    from runner.control.actions import ActionError

    try:
        return fn(*a)
    except ActionError as exc:
        return _fail(str(exc))
    except (OSError, RuntimeError) as exc:
        return _fail(f"{args.command} {args.run} failed: {exc}", EXIT_FAILURE)


def _outcome(args: argparse.Namespace, out: Any) -> int:
    if isinstance(out, int):
        return out
    _emit(args, {"run_id": out.run_id, "status": out.status, "message": out.message},
          f"{out.run_id}: {out.message}")  # fmt: skip
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from runner.control import actions
    from runner.status import TERMINAL

    out = _action(args, actions.stop, args.run, args.grace, not args.no_wait)
    if not isinstance(out, int) and not args.no_wait and out.status not in TERMINAL:
        return _fail(f"could not stop {args.run}: it is still {out.status}", EXIT_FAILURE)
    return _outcome(args, out)


def cmd_resume(args: argparse.Namespace) -> int:
    from runner.control import actions

    return _outcome(args, _action(args, actions.resume, args.run))


def cmd_clone(args: argparse.Namespace) -> int:
    from runner.control import actions

    out = _action(args, actions.clone_command, args.run)
    if isinstance(out, int):
        return out
    _emit(args, {"run": args.run, "command": out}, out)
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from runner.control import actions

    confirm = args.yes_delete
    if confirm is None and sys.stdin.isatty():
        confirm = input(f"type the run's name to delete it ({args.run}): ").strip()
    return _outcome(args, _action(args, actions.rm, args.run, confirm))


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs"
    out = []
    for r in rows:
        pos = f"#{r['position']}" if r.get("position") else ""
        code = "" if r.get("exit_code") is None else f"rc={r['exit_code']}"
        if r.get("job_alive"):
            code = "job alive"
        out.append(f"{r['status']:9} {pos:4} {r['name'] or '':40} {code:7} {r.get('log_path') or ''}")
    return "\n".join(out)


def cmd_queue(args: argparse.Namespace) -> int:
    from runner.control import queue

    if args.max is not None and args.max < 1:
        return _fail(f"queue --max must be at least 1 (got {args.max})")
    if args.max:
        queue.set_max_parallel(args.max)
    if args.action == "run":
        started = queue.drain()
        _emit(args, {"started": started}, f"started {len(started)} queued run(s)")
        return 0
    rows = queue.listing()
    _emit(
        args,
        {"max_parallel": queue.max_parallel(), "runs": rows},
        f"max {queue.max_parallel()} at once\n" + _table(rows),
    )
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from runner.control import records

    rows = records.list_runs()
    _emit(args, rows, _table(rows))
    return 0
