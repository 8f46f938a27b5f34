"""What a run view shows of one run, taken at once off the UI thread: its detail, the series of the
charted metric keys, and each key's latest step. Plain data (the app wraps it in a message)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.alerts.alert import Alert
from runner.runs.summary import RunDetail

if TYPE_CHECKING:
    from runner.runs.series import MetricTable


@dataclass
class Series:
    """One metric of one run: steps, values and the time each step was first seen."""

    key: str
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


@dataclass
class RunSnapshot:
    """What the run view needs of the run it shows."""

    path: str
    detail: RunDetail
    series: dict[str, Series]
    last_steps: dict[str, int] = field(default_factory=dict)  # metric key -> step of its latest value
    alerts: list[Alert] = field(default_factory=list)  # the run's alerts, newest first


def series_of(table: MetricTable, key: str) -> Series:
    """``key``'s column of ``table`` as floats (a non-numeric value is NaN, a boolean 0/1)."""
    steps, values = table.column(key)
    times, _ = table.column_times(key)
    return Series(key=key, steps=list(steps), values=[_num(v) for v in values], times=list(times))


def last_steps(table: MetricTable) -> dict[str, int]:
    """The step of every key's latest value (numeric or not)."""
    out: dict[str, int] = {}
    for key in table.keys():
        steps, _ = table.column(key)
        other = table.non_numeric(key)
        candidates = steps[-1:] + ([max(other)] if other else [])
        if candidates:
            out[key] = max(candidates)
    return out


def _num(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return float("nan")
