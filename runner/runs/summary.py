"""Plain dataclasses that cross from the run reader into the UI and the CLI.

Chart data is not copied into these: the TUI asks the live table for it,
``store.get(path).table.column(key) -> (steps, values)`` and
``store.get(path).table.column_times(key) -> (seen_times, values)`` (epoch seconds at which each
step's first line was read; see :mod:`runner.runs.series`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.status import Status

Scalar = float | int | str | bool | None

KINDS = ("rl", "sl", "dpo", "distill", "unknown", "foreign")


@dataclass
class BadLine:
    """A line that could not be read: file name, 1-based line number, parser message."""

    file: str
    line: int
    message: str


@dataclass
class RunSummary:
    """One row of the run list."""

    path: str
    name: str
    kind: str  # rl/sl/dpo/distill/unknown/foreign
    status: Status  # from the files, or the supervisor's record (``status_source``)
    step: int | None
    progress: float | None  # in [0, 1] when known
    headline_key: str | None
    headline_value: float | None
    spark: list[float]  # last <= 64 headline values
    last_change: float | None  # epoch seconds of the newest file change
    n_lines: int
    bad_lines: int
    latest: dict[str, Scalar]
    note: str = ""
    mode: str = ""  # rl: "sync", "async", "stream"; "" when not applicable
    status_source: str = "files"  # "files" or "supervisor"
    exit_code: int | None = None  # the job's exit code, from the supervisor's record
    unreadable: str = ""  # the first of the run's files that could not be read (the note says why)
    # the worst unacknowledged alert (runner.alerts), set by whoever judged the run: "" when none
    alert_flag: str = ""  # a few characters: "KL 0.08", "NaN loss", "exit 1"
    alert_severity: str = ""  # "info" | "warning" | "critical"
    removed: bool = False  # the run is gone (its folder, or a pending run's record): drop its row


@dataclass
class RunDetail:
    """One run in full, for the detail view and ``tinkertop show``."""

    summary: RunSummary
    config: dict | None
    config_error: str | None
    checkpoints: list[dict]
    console_tail: list[str]
    bad: list[BadLine]
    metric_keys: list[str]
    files: dict[str, float] = field(default_factory=dict)  # file name -> mtime
