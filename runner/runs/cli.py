"""``tinkertop ls`` and ``tinkertop show``: the headless twins of the run list and run detail.

JSON output: one object per line for ``ls --json``, one object for ``show --json``. Non-finite
floats are written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (the tokens
metrics.jsonl itself uses), so the output is strict JSON and nothing is silently turned into null; the
text tables write the same words.
U+2028 and U+2029 are written escaped (``\\u2028``, ``\\u2029``) so readers that split lines on them
(``str.splitlines``, JavaScript) still see one object per line.
A path that does not exist is an error on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    ls = subparsers.add_parser("ls", help="list runs below folders (default: the workspace)")
    ls.add_argument("paths", nargs="*", metavar="PATH", help="folders to search (default: results/logs)")
    ls.add_argument("--json", action="store_true", help="one JSON object per run per line")
    ls.set_defaults(func=cmd_ls)
    show = subparsers.add_parser("show", help="one run in full: series, config, checkpoints, log tail")
    show.add_argument("run_path", metavar="RUN_PATH", help="a run folder (or a loose metrics file)")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=cmd_show)


def jsonable(value: Any) -> Any:
    """Copy with non-finite floats as "NaN"/"Infinity"/"-Infinity"; other odd objects as str."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def _emit(lines: list[str]) -> None:
    """Print, and stop quietly when the reader went away (``tinkertop ls | head``)."""
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail


def dump_json(obj: Any) -> str:
    """One line of strict JSON (see the module docstring: non-finite floats as strings, U+2028/U+2029
    escaped). Every ``--json`` output of tinkertop goes through it."""
    text = json.dumps(jsonable(obj), allow_nan=False, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # only inside strings


def _missing(paths: list[str]) -> int:
    for p in paths:
        print(f"tinkertop: no such file or folder: {p}", file=sys.stderr)
    return 2


def cmd_ls(args: argparse.Namespace) -> int:
    from runner.api import status_source
    from runner.paths import default_roots
    from runner.runs.store import RunStore

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        return _missing(missing)
    roots = [Path(p) for p in args.paths] or default_roots()
    store = RunStore(roots, status_source())
    summaries = store.scan()
    _judge(store, summaries, roots)
    _emit([dump_json(_ls_row(s)) for s in summaries] if args.json else [format_table(summaries)])
    return 0


def _judge(store: Any, summaries: list[Any], roots: list[Path]) -> None:
    """The alert flag of each row, as in the app's list (the workspace's settings and acks)."""
    from runner.alerts.board import AlertBoard
    from runner.paths import workspace_for

    board = AlertBoard(workspace_for(roots))
    if board.settings_error:
        print(
            f"tinkertop: alert settings ignored, defaults in force: {board.settings_error}", file=sys.stderr
        )
    board.judge(store, summaries)


def _ls_row(s: Any) -> dict[str, Any]:
    keys = ("path", "name", "kind", "mode", "status", "step", "progress", "headline_key", "headline_value")
    row = {k: getattr(s, k) for k in keys}
    row.update(n_lines=s.n_lines, bad_lines=s.bad_lines, last_change=s.last_change, note=s.note)
    row.update(
        alert=s.alert_flag or None, alert_severity=s.alert_severity or None, unreadable=s.unreadable or None
    )
    row["latest"] = s.latest
    return row


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(jsonable(v))  # NaN as in the JSON output
    return str(v)


def format_table(summaries: list[Any]) -> str:
    """The plain ``ls`` table: aligned columns, one run per row."""
    head = (
        "NAME",
        "KIND",
        "STATUS",
        "STEP",
        "DONE",
        "HEADLINE",
        "VALUE",
        "ALERT",
        "LINES",
        "BAD",
        "PATH",
        "NOTE",
    )
    rows = [head]
    for s in summaries:
        done = "-" if s.progress is None else f"{100 * s.progress:.0f}%"
        alert = f"{s.alert_severity}: {s.alert_flag}" if s.alert_flag else "-"
        rows.append(
            (s.name, s.kind, s.status, _fmt(s.step), done, s.headline_key or "-", _fmt(s.headline_value),
             alert, str(s.n_lines), str(s.bad_lines), s.path, s.note)
        )  # fmt: skip
    if len(rows) == 1:
        return "no runs found"
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def cmd_show(args: argparse.Namespace) -> int:
    from runner.api import status_source
    from runner.runs.store import RunStore

    path = Path(args.run_path)
    if not path.exists():
        return _missing([args.run_path])
    run = RunStore([path], status_source()).get(path)
    if run is None:
        return _missing([args.run_path])
    detail = run.detail()
    series = {k: asdict(run.table.stats(k)) for k in run.table.numeric_keys()}
    other = {k: run.table.non_numeric(k) for k in detail.metric_keys if run.table.non_numeric(k)}
    doc = {
        "summary": asdict(detail.summary),
        "series": series,
        "non_numeric": {k: {"count": len(v), "last": v[max(v)]} for k, v in other.items()},
        "config": detail.config,
        "config_error": detail.config_error,
        "checkpoints": detail.checkpoints,
        "bad": [asdict(b) for b in detail.bad],
        "console_tail": detail.console_tail,
        "files": detail.files,
    }
    _emit([dump_json(doc) if args.json else format_show(doc)])
    return 0


def format_show(doc: dict[str, Any]) -> str:
    """Readable ``show`` output."""
    s = doc["summary"]
    out = [f"{s['name']}  {s['kind']}{'/' + s['mode'] if s['mode'] else ''}  {s['status']}  {s['path']}"]
    out.append(f"step {_fmt(s['step'])}  lines {s['n_lines']}  bad {s['bad_lines']}  {s['note']}".rstrip())
    out.append("")
    out.append(f"{'KEY':40} {'N':>5} {'FIRST':>10} {'LAST':>10} {'MIN':>10} {'MAX':>10} {'NONFIN':>6}")
    for key, st in doc["series"].items():
        vals = [_fmt(st[c]) for c in ("first", "last", "min", "max")]
        out.append(
            f"{key:40} {st['count']:>5} " + " ".join(f"{v:>10}" for v in vals) + f" {st['non_finite']:>6}"
        )
    for key, info in doc["non_numeric"].items():
        out.append(f"{key:40} {info['count']:>5} last={info['last']!r}")
    out.append("")
    out.append(
        "config: " + (doc["config_error"] or ("-" if doc["config"] is None else f"{len(doc['config'])} keys"))
    )
    out.append(f"checkpoints ({len(doc['checkpoints'])}):")
    out.extend("  " + json.dumps(jsonable(c)) for c in doc["checkpoints"][-10:])
    if doc["bad"]:
        out.append(f"bad lines ({len(doc['bad'])}):")
        out.extend(f"  {b['file']}:{b['line']}: {b['message']}" for b in doc["bad"][:20])
    out.append("console tail:")
    out.extend("  " + line for line in doc["console_tail"][-20:])
    return "\n".join(out)
