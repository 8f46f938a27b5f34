"""Run summaries from the tail of each file only, for the app's first paint.

``quick_scan(roots)`` finds runs (``discover``) and, for each run folder, reads the last ~64 lines of
``metrics.jsonl`` (seeking near the end), the last checkpoint record and the end of ``logs.log``.
It never parses a whole metrics file, and it parses each kept line once without building a
``MetricTable`` (about 5x faster than ``RunFolder.peek`` on 200 runs of 1,000 RL steps); the full
read (``RunStore.scan``) comes afterwards in the app's worker. When the file is longer than the
tail, ``n_lines`` counts only the lines read and the note says "quick look: last lines only".
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runner.runs.discover import discover
from runner.runs.folder import RunFolder, run_name
from runner.runs.jsonl import LineError, parse_object
from runner.runs.kinds import headline_key, infer_kind, progress_of
from runner.runs.model import RunSummary
from runner.runs.series import step_of
from runner.runs.status import exit_code_of, infer_status, supervisor_status

TAIL_LINES = 24  # the list shows a 12-step sparkline; a margin for steps spread over several lines
CHUNK = 32 * 1024
MAX_TAIL_BYTES = 8 * 1024 * 1024
CONSOLE_BYTES = 16 * 1024


def tail_lines(path: Path, n: int = TAIL_LINES, max_bytes: int = MAX_TAIL_BYTES) -> tuple[list[bytes], bool]:
    """The last ``n`` non-blank lines of a file and whether the file's start was reached."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            pos, data = end, b""
            while pos > 0 and data.count(b"\n") <= n and end - pos < max_bytes:
                step = min(CHUNK, pos)
                pos -= step
                handle.seek(pos)
                data = handle.read(step) + data
    except OSError:
        return [], True
    lines = data.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # first piece may start mid-line
    lines = [line for line in lines if line.strip()]
    return lines[-n:], pos == 0


def _records(lines: list[bytes]) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    bad = 0
    for i, raw in enumerate(lines):
        try:
            records.append(parse_object(raw))
        except LineError:
            if i != len(lines) - 1:  # a half-written last line is not (yet) bad
                bad += 1
    return records, bad


def _last_checkpoint(path: Path) -> list[dict[str, Any]]:
    lines, _ = tail_lines(path, 1, CHUNK)
    records, _ = _records(lines + [b""])
    return records[-1:]


def _console_tail(path: Path) -> list[str]:
    lines, _ = tail_lines(path, 200, CONSOLE_BYTES)
    return [line.decode("utf-8", "replace") for line in lines]


def _config(path: Path) -> dict[str, Any] | None:
    try:
        obj = parse_object(path.read_bytes())
    except (OSError, LineError):
        return None
    return obj


def _mtime(folder: Path, names: list[str]) -> float | None:
    times = []
    for name in names:
        try:
            times.append((folder / name).stat().st_mtime)
        except OSError:
            pass
    return max(times) if times else None


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return math.nan
    return float(v)


def quick_summary(folder: Path) -> RunSummary:
    """A ``RunSummary`` from the tails of one run folder's files."""
    lines, whole = tail_lines(folder / "metrics.jsonl")
    records, bad = _records(lines)
    by_step: dict[int, dict[str, Any]] = {}
    latest: dict[str, Any] = {}
    for rec in records:
        latest.update(rec)
        step = step_of(rec)
        if step is None:  # as MetricTable does: the next free step
            step = max(by_step) + 1 if by_step else 0
        by_step.setdefault(step, {}).update(rec)
    config = _config(folder / "config.json")
    has_metrics = (folder / "metrics.jsonl").exists()
    info = infer_kind(latest.keys(), config)
    kind = info.kind if (has_metrics or config is not None) else "foreign"
    head = headline_key(kind, latest.keys())
    steps = sorted(by_step)
    step = steps[-1] if steps else None
    spark = [_num(by_step[s].get(head)) for s in steps if head in by_step[s]] if head else []
    last_change = _mtime(folder, ["metrics.jsonl", "checkpoints.jsonl", "logs.log", "config.json", "."])
    status = infer_status(
        _last_checkpoint(folder / "checkpoints.jsonl"), _console_tail(folder / "logs.log"), last_change
    )
    record = supervisor_status(folder)
    progress = progress_of(latest, step, config)
    if status == "finished" and progress is not None:
        progress = 1.0
    return RunSummary(
        path=str(folder),
        name=run_name(folder),
        kind=kind,
        status=str(record["status"]) if record else status,
        step=step,
        progress=progress,
        headline_key=head,
        headline_value=_num(latest.get(head)) if head and head in latest else None,
        spark=spark[-TAIL_LINES:],
        last_change=last_change,
        n_lines=len(records),
        bad_lines=bad,
        latest=latest,
        note="" if whole else "quick look: last lines only",
        mode=info.mode if kind == "rl" else "",
        status_source="supervisor" if record else "files",
        exit_code=exit_code_of(record),
    )


def quick_scan(roots: Iterable[str | Path]) -> list[RunSummary]:
    """Quick summaries of every run below ``roots`` (same runs, paths and names as ``RunStore``)."""
    out = []
    for item in discover(roots):
        if item.path.is_dir() and not item.foreign:
            out.append(quick_summary(item.path))
        else:  # a loose metrics file or a foreign console log: small, read it whole
            run = RunFolder(item.path, foreign=item.foreign)
            run.refresh()
            out.append(run.summary())
    return out
