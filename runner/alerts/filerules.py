"""Rules on a run's status and files rather than its metrics: crashed, lost, stalled, a warning that
repeats in the console log, the log folder's filesystem nearly full. Judged afresh on every call
(cheap: the status, the cached console tail, one statvfs)."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.alerts.alert import Alert, severity_of
from runner.alerts.settings import Settings
from runner.runs.status import held_by_process, median_step_seconds

# the families worth a human: retries, rate limits, heartbeats, timeouts, dropped connections
WARN_RE = re.compile(
    r"retry|retrying|rate.?limit|\b429\b|\b50[23]\b|heartbeat|timed out|timeout|backoff|overloaded"
    r"|connection (reset|refused|error|aborted)|APIConnectionError|Request failed",
    re.IGNORECASE,
)
NUMBERS_RE = re.compile(r"0x[0-9a-f]+|\d+(\.\d+)?", re.IGNORECASE)
TIME_PREFIX_RE = re.compile(r"^\s*[\d\-:,. T]+")
FAILED = ("failed", "error")


@dataclass(frozen=True)
class RunFacts:
    """What the file rules look at, gathered once per evaluation."""

    path: str
    status: str
    status_source: str
    exit_code: int | None
    last_step: int | None
    console_tail: list[str]
    metrics_mtime: float | None
    step_seconds: float | None


def _alert(f: RunFacts, rule: str, level: int, metric: str, value: float | None, thr: float | None,
           window: str, message: str, flag: str) -> Alert:  # fmt: skip
    return Alert(
        f.path, rule, severity_of(level), metric, f.last_step, f.last_step, value, thr, window, message, flag
    )


def _at(f: RunFacts) -> str:
    return "" if f.last_step is None else f" at step {f.last_step}"


def crashed(f: RunFacts, s: Settings) -> list[Alert]:
    code = f.exit_code
    if f.status == "stopped":  # the user stopped it (K: SIGTERM, exit -15; ctrl+k: -9): not a crash
        return []
    if code not in (None, 0):
        return [_alert(f, "crashed", 3, "status", float(code), 0.0, "process exit",
                       f"The run's process exited with code {code}{_at(f)}.", f"exit {code}")]  # fmt: skip
    if f.status in FAILED:
        last = next((line.strip() for line in reversed(f.console_tail) if line.strip()), "")
        return [_alert(f, "crashed", 3, "logs.log", None, None, "end of the console log",
                       f"The run failed{_at(f)}: {last[:200].rstrip('.') or 'a traceback ends the log'}.",
                       "crashed")]  # fmt: skip
    return []


def lost(f: RunFacts, s: Settings) -> list[Alert]:
    if f.status != "lost":
        return []
    return [_alert(f, "lost", 3, "status", None, None, "supervisor record",
                   "The supervisor of this run is gone and its process cannot be found.", "lost")]  # fmt: skip


def stalled(f: RunFacts, s: Settings, now: float) -> list[Alert]:
    """No metrics line for too long while the run's process is alive: the supervisor says it runs, or
    (no supervisor) a local process holds the run's files. Files that only grew are no proof (a folder
    being copied in keeps its old mtimes), nor is an unknown or stale status."""
    if f.status != "running" or f.metrics_mtime is None:
        return []
    limit = max(60 * s.num("stalled", "min_minutes"), s.num("stalled", "factor") * (f.step_seconds or 0))
    idle = now - f.metrics_mtime
    if idle <= limit or (f.status_source != "supervisor" and not _held(f.path)):
        return []
    level = 3 if idle > s.num("stalled", "crit_factor") * limit else 2
    mins = idle / 60
    return [_alert(f, "stalled", level, "metrics.jsonl", mins, limit / 60, "since the last metrics line",
                   f"No new metrics line for {mins:.0f} min (limit {limit / 60:.0f} min) while the process "
                   f"runs; last step {f.last_step}.", f"stalled {mins:.0f}m")]  # fmt: skip


_REPEATS: dict[tuple[str, int, str, str], Counter[str]] = {}  # console tail -> warning shapes (a memo)


def _repeats(path: str, lines: list[str]) -> Counter[str]:
    key = (path, len(lines), lines[0] if lines else "", lines[-1] if lines else "")
    counts = _REPEATS.get(key)
    if counts is None:
        counts = Counter(_shape(line) for line in lines if _is_warning(line))
        counts.pop("", None)
        if len(_REPEATS) > 2000:
            _REPEATS.clear()
        _REPEATS[key] = counts
    return counts


def console_warning(f: RunFacts, s: Settings) -> list[Alert]:
    lines = f.console_tail[-int(s.num("console_warning", "lines")) :]
    counts = _repeats(f.path, lines)
    if not counts:
        return []
    shape, n = counts.most_common(1)[0]
    need = s.num("console_warning", "repeats")
    if n < need:
        return []
    return [_alert(f, "console_warning", 2, "logs.log", float(n), need, f"last {len(lines)} console lines",
                   f"A warning repeats {n} times in the last {len(lines)} console lines: {shape[:160]}",
                   f"warn x{n}")]  # fmt: skip


WARN_WORDS = (
    "retr",
    "rate",
    "429",
    "50",
    "heartbeat",
    "time",
    "backoff",
    "overloaded",
    "connection",
    "request",
)


def _is_warning(line: str) -> bool:
    low = line[:400].lower()
    return any(w in low for w in WARN_WORDS) and WARN_RE.search(low) is not None


def _shape(line: str) -> str:
    """A console line without its timestamp and numbers, so repeats compare equal."""
    return NUMBERS_RE.sub("#", TIME_PREFIX_RE.sub("", line)).strip()


def disk(f: RunFacts, s: Settings, statvfs: Any = os.statvfs) -> list[Alert]:
    try:
        st = statvfs(f.path if os.path.isdir(f.path) else os.path.dirname(f.path) or ".")
    except OSError:
        return []
    if not st.f_blocks:
        return []
    free = st.f_bavail / st.f_blocks
    crit, warn = s.num("disk", "crit_free"), s.num("disk", "warn_free")
    if free >= warn:
        return []
    level = 3 if free < crit else 2
    gib = st.f_bavail * st.f_frsize / 2**30
    return [_alert(f, "disk", level, "filesystem", free, crit if level == 3 else warn, "free space now",
                   f"The log folder's filesystem is {1 - free:.1%} full ({gib:.1f} GiB free).",
                   f"disk {free:.0%} free")]  # fmt: skip


def _held(path: str) -> bool:
    """Whether a local process holds the run (its folder's files open for writing, or its path in a
    command line): asked only when a run from the files looks stalled (one cached scan of /proc)."""
    run = Path(path)
    try:
        files: list[Path | None] = [e for e in run.iterdir() if e.is_file()] if run.is_dir() else [run]
    except OSError:
        return False
    return held_by_process(run, files)


def median_interval(seen_times: Any, time_totals: Any) -> float | None:
    """The median step time over the last 20 steps (see :func:`runner.runs.status.median_step_seconds`)."""
    return median_step_seconds(list(time_totals[-20:]), list(seen_times)[-21:])


def file_alerts(f: RunFacts, s: Settings, now: float | None = None) -> list[Alert]:
    now = time.time() if now is None else now
    out: list[Alert] = []
    for name, fn in (
        ("crashed", crashed),
        ("lost", lost),
        ("console_warning", console_warning),
        ("disk", disk),
    ):
        if s.enabled(name):
            out.extend(fn(f, s))  # type: ignore[operator]
    if s.enabled("stalled"):
        out.extend(stalled(f, s, now))
    return out
