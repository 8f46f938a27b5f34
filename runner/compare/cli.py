"""``tinkertop compare RUN_PATH... [--metric M]... [--group-by KEY] [--all-keys] [--json | --csv]``.

Text output: the table (runs, then per metric last/min/max/best step/smoothed-last), the config diff
(only the keys that differ, or all with ``--all-keys``; ``~`` changed, ``+`` added, ``-`` removed) with
each run's commit, then the groups with ``--group-by``. ``--json``: strict JSON lines through
:func:`runner.runs.cli.dump_json`, each with a ``type``: ``row`` (one per run), ``diff`` (one per
key), ``code`` (one per run: commit, code diff), ``group`` (with ``--group-by``: label, runs, last
mean/min/max of the metric) and ``note``. ``--csv``: the table (with ``--group-by``, a ``group``
column: each run's group). A ``--metric`` no compared run has a finite value of is said on stderr.

A folder that is not itself a run expands to the runs below it. A path that does not exist, or holds
no run, is a usage error naming it (exit 2).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare runs: metric table, config keys that differ, groups by a config key",
        description="Compare runs: a table of the metrics that matter per kind, the config keys that "
        "differ (with each run's git commit and code diff) and, with --group-by, one line per value of "
        "a config key (mean, min and max of the first metric's last values). "
        "A folder of runs expands to its runs.",
    )
    p.add_argument("paths", nargs="+", metavar="RUN_PATH", help="run folders, or folders holding runs")
    p.add_argument(
        "--metric", action="append", metavar="M", help="a metric column (repeat for more; default: per kind)"
    )
    p.add_argument(
        "--group-by", metavar="KEY", help="group runs by this config key (dotted, or its last part)"
    )
    p.add_argument(
        "--all-keys", action="store_true", help="show every config key, not only those that differ"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="JSON lines, each with a 'type'")
    out.add_argument("--csv", action="store_true", help="the table as CSV")
    p.set_defaults(func=cmd_compare)


def resolve_runs(given: list[str]) -> tuple[list[Path], str | None]:
    """The runs named by ``given`` (a run folder or file as is, a folder of runs expanded), or the
    usage error naming the first path that is neither."""
    from runner.runs.discover import discover

    runs: dict[str, Path] = {}
    for text in given:
        path = Path(text)
        if not path.exists():
            return [], f"no such file or folder: {text}"
        found = discover([path])
        own = [f for f in found if os.path.abspath(f.path) == os.path.abspath(path)]
        chosen = [path] if own else [f.path for f in found]
        if not chosen:
            return [], f"not a run folder, and no run below it: {text}"
        for run in chosen:
            runs.setdefault(os.path.abspath(run), run)
    return list(runs.values()), None


def cmd_compare(args: argparse.Namespace) -> int:
    from runner.compare import compare_table, config_diff
    from runner.runs.cli import _emit

    paths, error = resolve_runs(args.paths)
    if error:
        print(f"tinkertop: {error}", file=sys.stderr)
        return EXIT_USAGE
    from runner.api import status_source
    from runner.runs.store import RunStore

    store = RunStore(paths, status_source=status_source())
    table = compare_table(paths, args.metric, store=store)
    for metric in absent_metrics(table) if args.metric else []:
        print(f"tinkertop: compare: no compared run has a finite value of metric {metric!r}", file=sys.stderr)
    if args.csv:
        from runner.compare import table_to_csv

        _emit([table_to_csv(table, _group_of(paths, args.group_by) if args.group_by else None).rstrip("\n")])
        return 0
    diff = config_diff(paths, all_keys=args.all_keys)
    groups = _groups(store, paths, table, args) if args.group_by else None
    if args.json:
        _emit(json_lines(table, diff, groups))
    else:
        _emit([format_text(table, diff, groups)])
    return 0


def absent_metrics(table: Any) -> list[str]:
    """The table's metrics that no run has a finite value of (a typo in ``--metric``, most likely)."""
    return [m for m in table.metrics if all(row.metrics[m].last is None for row in table.rows)]


def _group_of(paths: list[Path], key: str) -> dict[str, str]:
    """Run path -> the label of its group by config ``key`` (the ``group`` column of ``--csv``)."""
    from runner.compare import group_key_values

    return {str(p): label for label, runs in group_key_values(paths, key).items() for p in runs}


def _groups(store: Any, paths: list[Path], table: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One summary per group of the first metric column (see :func:`runner.compare.group_summary`)."""
    from runner.compare import group_key_values, group_series, group_summary

    metric = table.metrics[0] if table.metrics else None
    if metric is None:
        return []
    names = {row.path: row.name for row in table.rows}
    series = {}
    for path in paths:
        run = store.get(path)
        if run is not None:
            series[str(path)] = run.table.column(metric)
    grouped = group_key_values(paths, args.group_by)
    lines = group_series(series, {label: [str(p) for p in runs] for label, runs in grouped.items()})
    out = []
    for line, members in zip(lines, grouped.values(), strict=True):
        summary = group_summary(line, series)
        summary.update(metric=metric, runs=[names.get(str(p), str(p)) for p in members])
        summary["paths"] = [str(p) for p in members]
        out.append(summary)
    return out


def json_lines(table: Any, diff: Any, groups: list[dict[str, Any]] | None) -> list[str]:
    """The ``--json`` lines: rows, diff rows, code per run, groups, notes."""
    from runner.compare import MISSING
    from runner.runs.cli import dump_json

    out = [dump_json({"type": "row", **asdict(row)}) for row in table.rows]
    for row in diff.rows:
        values = {n: v for n, v in zip(diff.runs, row.values, strict=True) if v is not MISSING}
        missing = [n for n, v in zip(diff.runs, row.values, strict=True) if v is MISSING]
        out.append(dump_json({"type": "diff", "key": row.key, "change": row.change, "values": values,
                              "missing": missing}))  # fmt: skip
    for name, path, commit, code in zip(diff.runs, diff.paths, diff.commits, diff.code_diffs, strict=True):
        out.append(
            dump_json({"type": "code", "name": name, "path": path, "commit": commit, "code_diff": code})
        )
    out.extend(dump_json({"type": "group", **g}) for g in groups or [])
    out.extend(dump_json({"type": "note", "message": n}) for n in diff.notes)
    return out


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
        return f"{v:.4g}"
    return str(v)


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return _num(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s"


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_text(table: Any, diff: Any, groups: list[dict[str, Any]] | None) -> str:
    """The plain output: table, per-metric blocks, config diff, commits, groups."""
    out = _columns(
        [("NAME", "KIND", "STATUS", "STEP", "DURATION", "ALERTS", "NOTE")]
        + [(r.name, r.kind, r.status, _num(r.step), _duration(r.duration_s),
            f"{r.alerts} {r.alert_flag}".strip() if r.alerts else "0", r.note) for r in table.rows]
    )  # fmt: skip
    for metric in table.metrics:
        out += ["", metric]
        rows = [("  NAME", "LAST", "MIN", "MAX", "BEST STEP", "SMOOTHED")]
        for r in table.rows:
            st = r.metrics[metric]
            rows.append((f"  {r.name}", _num(st.last), _num(st.min), _num(st.max), _num(st.best_step),
                         _num(st.smoothed_last)))  # fmt: skip
        out += _columns(rows)
    out += ["", *format_diff(diff)]
    if groups is not None:
        out += ["", f"groups ({groups[0]['metric'] if groups else '-'}, each run's last value):"]
        out += _columns(
            [("  GROUP", "RUNS", "MEAN", "MIN", "MAX")]
            + [(f"  {g['label']}", str(len(g["runs"])), _num(g["last_mean"]), _num(g["last_min"]),
                _num(g["last_max"])) for g in groups]
        )  # fmt: skip
    return "\n".join(out)


MARKS = {"changed": "~", "added": "+", "removed": "-", "same": " "}


WIDE = 6  # more runs than this: the diff lists each key's values with the runs holding them


def format_diff(diff: Any) -> list[str]:
    """The config diff as text lines: one column per run, or with more than WIDE runs each key's
    distinct values with the runs holding them; then each run's commit and code diff."""
    from runner.compare import format_value

    every = any(r.change == "same" for r in diff.rows)
    lines = ["config" + (" (every key):" if every else ", keys that differ:")]
    if not diff.rows:
        lines.append("  (no differing keys)")
    elif len(diff.runs) > WIDE:
        for r in diff.rows:
            lines.append(f"  {MARKS[r.change]}  {r.key}")
            values = [format_value(v) for v in r.values]
            lines += [f"       {_cut(v)}: {names}" for v, names in _holders(values, diff.runs).items()]
    else:
        rows = [("  ", "KEY", *diff.runs)]
        rows += [
            (f"  {MARKS[r.change]}", r.key, *(_cut(format_value(v)) for v in r.values)) for r in diff.rows
        ]
        lines += _columns(rows)
    pairs = zip(diff.commits, diff.code_diffs, strict=True)
    commits = [(c[:12] if c else "no commit", _diff_size(d)) for c, d in pairs]
    if len(diff.runs) > WIDE:
        held = _holders([f"{c}  {d}" for c, d in commits], diff.runs)
        lines += ["  commit, code diff:"] + [f"    {v}: {names}" for v, names in held.items()]
    else:
        rows = [("  RUN", "COMMIT", "CODE DIFF")] + [
            (f"  {n}", *cd) for n, cd in zip(diff.runs, commits, strict=True)
        ]
        lines += _columns(rows)
    lines += [f"  note: {n}" for n in diff.notes]
    return lines


def _holders(values: list[str], runs: Sequence[str], shown: int = 4) -> dict[str, str]:
    """Each distinct value -> the runs holding it (the first few, then how many)."""
    by_value: dict[str, list[str]] = {}
    for value, run in zip(values, runs, strict=True):
        by_value.setdefault(value, []).append(run)
    return {
        v: ", ".join(names[:shown]) + (f", ... ({len(names)} runs)" if len(names) > shown else "")
        for v, names in by_value.items()
    }


def _cut(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _diff_size(text: str | None) -> str:
    if text is None:
        return "no code.diff"
    if "(no local changes)" in text or "not in a git repository" in text:
        return "no local changes" if "(no local changes)" in text else "not a git checkout"
    return f"{len(text.splitlines())} lines"
