"""Run summaries from the tail of each file only, for the app's first paint.

``quick_scan(roots)`` finds runs (``discover``) and, for each run folder, reads the last ~64 lines of
``metrics.jsonl`` (seeking near the end), the last checkpoint record and the end of ``logs.log``;
``quick_scan_parts`` gives the runs that changed last (the top of the runs list) first.
It never parses a whole metrics file, and it parses each kept line once without building a
``MetricTable`` (about 5x faster than filling one from the tail, on 200 runs of 1,000 RL steps); the full
read (``RunStore.scan``) comes afterwards in the app's worker. When the file is longer than the
tail, ``n_lines`` counts only the lines read and the note says "quick look: last lines only".
As in the full read, a file that is not a regular file (a FIFO, ``/dev/zero``...) or over its cap is
not read and the note names it; an unexpected error in one run makes a flagged row for that run only.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.runs.discover import Found, discover
from runner.runs.folder import RunFolder, run_name
from runner.runs.jsonl import LineError, describe_error, parse_object, parse_record, read_capped, read_tail
from runner.runs.kinds import headline_key, infer_kind, progress_of
from runner.runs.series import step_of
from runner.runs.status import (
    StatusSource,
    exit_code_of,
    held_by_process,
    infer_status,
    supervisor_status,
)
from runner.runs.summary import RunSummary
from runner.status import Status

TAIL_LINES = 24  # the list shows a 12-step sparkline; a margin for steps spread over several lines
CHUNK = 32 * 1024
MAX_TAIL_BYTES = 8 * 1024 * 1024
CONSOLE_BYTES = 16 * 1024


def tail_lines(path: Path, n: int = TAIL_LINES, max_bytes: int = MAX_TAIL_BYTES) -> tuple[list[bytes], bool]:
    """The last ``n`` non-blank lines of a file and whether the file's start was reached."""
    return _tail(path, n, max_bytes, [])


def _tail(path: str | Path, n: int, max_bytes: int, notes: list[str]) -> tuple[list[bytes], bool]:
    """As :func:`tail_lines`; why a file that exists could not be read is added to ``notes``."""
    try:
        data, whole = read_tail(path, n, max_bytes, CHUNK)
    except FileNotFoundError:
        return [], True
    except OSError as exc:
        notes.append(f"{os.path.basename(path)}: {describe_error(exc)}")
        return [], True
    lines = data.split(b"\n")
    if not whole:
        lines = lines[1:]  # first piece may start mid-line
    lines = [line for line in lines if line.strip()]
    return lines[-n:], whole


def _records(lines: list[bytes]) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    bad = 0
    for i, raw in enumerate(lines):
        try:
            record, dropped = parse_record(raw)
        except LineError:
            if i != len(lines) - 1:  # a half-written last line is not (yet) bad
                bad += 1
            continue
        records.append(record)
        bad += dropped is not None
    return records, bad


def _last_checkpoint(path: str, notes: list[str]) -> list[dict[str, Any]]:
    lines, _ = _tail(path, 1, CHUNK, notes)
    records, _ = _records(lines + [b""])
    return records[-1:]


def _console_tail(path: str, notes: list[str]) -> list[str]:
    lines, _ = _tail(path, 200, CONSOLE_BYTES, notes)
    return [line.decode("utf-8", "replace") for line in lines]


def _config(path: str, notes: list[str]) -> dict[str, Any] | None:
    name = os.path.basename(path)
    try:
        return parse_object(read_capped(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"{name}: {describe_error(exc)}")
    except LineError as exc:
        notes.append(f"{name}: not valid JSON ({exc})")
    return None


WRITTEN = ("metrics.jsonl", "checkpoints.jsonl", "logs.log")  # a process writing one of them runs the run
STAT_NAMES = (*WRITTEN, "config.json", ".")


Stats = tuple[dict[str, os.stat_result], set[str]]


def _stats(base: str) -> Stats:
    """One ``stat`` of each of a run folder's files: the results, and the names that do not exist (their
    reads are skipped: a missing file reads as empty)."""
    stats: dict[str, os.stat_result] = {}
    missing: set[str] = set()
    for name in STAT_NAMES:
        try:
            stats[name] = os.stat(os.path.join(base, name))
        except FileNotFoundError:
            missing.add(name)
        except OSError:
            pass
    return stats, missing


def last_change(stats: Mapping[str, os.stat_result]) -> float | None:
    """When a run folder last changed: the newest mtime of its files (the runs list's "updated")."""
    return max((st.st_mtime for st in stats.values()), default=None)


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return math.nan
    return float(v)


def quick_summary(
    folder: Path, status_source: StatusSource | None = None, taken: Stats | None = None
) -> RunSummary:
    """A ``RunSummary`` from the tails of one run folder's files (status: ``status_source``'s record,
    else the files); ``taken``: the folder's ``_stats``, when taken already."""
    notes: list[str] = []
    base = os.fspath(folder)
    stats, missing = _stats(base) if taken is None else taken
    lines: list[bytes] = []
    whole = True
    if "metrics.jsonl" not in missing:
        lines, whole = _tail(os.path.join(base, "metrics.jsonl"), TAIL_LINES, MAX_TAIL_BYTES, notes)
    records, bad = _records(lines)
    by_step: dict[int, dict[str, Any]] = {}
    latest: dict[str, Any] = {}
    for rec in records:
        latest.update(rec)
        step = step_of(rec)
        if step is None:  # as MetricTable does: the next free step
            step = max(by_step) + 1 if by_step else 0
        by_step.setdefault(step, {}).update(rec)
    config = None if "config.json" in missing else _config(os.path.join(base, "config.json"), notes)
    has_metrics = "metrics.jsonl" in stats
    info = infer_kind(latest.keys(), config)
    kind = info.kind if (has_metrics or config is not None) else "foreign"
    head = headline_key(kind, latest.keys())
    steps = sorted(by_step)
    step = steps[-1] if steps else None
    spark = [_num(by_step[s].get(head)) for s in steps if head in by_step[s]] if head else []
    progress = progress_of(latest, step, config)
    checkpoints = os.path.join(base, "checkpoints.jsonl")
    status = infer_status(  # one look: no growth seen yet (new files prove nothing)
        [] if "checkpoints.jsonl" in missing else _last_checkpoint(checkpoints, notes),
        [] if "logs.log" in missing else _console_tail(os.path.join(base, "logs.log"), notes),
        None,
        held=lambda: held_by_process(folder, [os.path.join(base, name) for name in WRITTEN]),
        progress=progress,
    )
    record, problem = supervisor_status(status_source, folder)
    notes += [problem] if problem else []
    if status == Status.FINISHED and progress is not None:
        progress = 1.0
    return RunSummary(
        path=str(folder),
        name=folder.name if "." in stats and stat.S_ISDIR(stats["."].st_mode) else run_name(folder),
        kind=kind,
        status=Status.parse(record["status"], Status.UNKNOWN) if record else status,
        step=step,
        progress=progress,
        headline_key=head,
        headline_value=_num(latest.get(head)) if head and head in latest else None,
        spark=spark[-TAIL_LINES:],
        last_change=last_change(stats),
        n_lines=len(records),
        bad_lines=bad,
        latest=latest,
        note="; ".join(([] if whole else ["quick look: last lines only"]) + notes),
        mode=info.mode if kind == "rl" else "",
        status_source="supervisor" if record else "files",
        exit_code=exit_code_of(record),
    )


def quick_scan(roots: Iterable[str | Path], status_source: StatusSource | None = None) -> list[RunSummary]:
    """Quick summaries of every run below ``roots`` (same runs, paths and names as ``RunStore``)."""
    return [_quick_one(item, status_source) for item in discover(roots)]


def quick_scan_parts(
    roots: Iterable[str | Path], status_source: StatusSource | None = None, first: int = 100
) -> Iterator[tuple[list[RunSummary], int]]:
    """``quick_scan`` in two parts, each with the number of runs found: the ``first`` runs that changed
    last (the top of the runs list, sorted "updated"), then the others. Every run is ``stat``-ed once."""
    items = discover(roots)
    stats = [_item_stats(item) for item in items]
    newest = sorted(range(len(items)), key=lambda i: -(_changed(items[i], stats[i]) or 0.0))
    head = set(newest[:first])
    for part in (sorted(head), [i for i in range(len(items)) if i not in head]):
        yield [_quick_one(items[i], status_source, stats[i]) for i in part], len(items)


def _item_stats(item: Found) -> Stats | None:
    """A run folder's ``_stats`` (none for a loose file or a foreign log, read whole, and when in doubt)."""
    try:
        return _stats(os.fspath(item.path)) if item.path.is_dir() and not item.foreign else None
    except OSError:  # summarising it says why (in _quick_one)
        return None


def _changed(item: Found, stats: Stats | None) -> float | None:
    if stats is not None:
        return last_change(stats[0])
    try:
        return os.stat(item.path).st_mtime
    except OSError:
        return None


def _quick_one(item: Found, status_source: StatusSource | None, stats: Stats | None = None) -> RunSummary:
    """One run's quick summary; an unexpected error is that run's flagged row, not the scan's end."""
    run: RunFolder | None = None  # built only when needed: a run folder is read from its tails alone
    try:
        if stats is not None or (item.path.is_dir() and not item.foreign):
            return quick_summary(item.path, status_source, stats)
        run = RunFolder(item.path, foreign=item.foreign, status_source=status_source)
        run.refresh()  # a loose metrics file or a foreign console log: small, read it whole
        return run.summary()
    except Exception as exc:  # isolation: one bad run never takes down the others
        if run is None:
            run = RunFolder(item.path, foreign=item.foreign, status_source=status_source)
        return run.failed_summary(exc)
