"""Messages the follow worker posts to the UI: one per batch of changed run folders."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from runner.alerts.model import Alert
from runner.runs.model import RunDetail, RunSummary


@dataclass
class Series:
    """One metric of one run: steps, values and the time each step was first seen."""

    key: str
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


@dataclass
class RunSnapshot:
    """What the run view needs of the run it shows, taken in the worker."""

    path: str
    detail: RunDetail
    series: dict[str, Series]
    last_steps: dict[str, int] = field(default_factory=dict)  # metric key -> step of its latest value
    alerts: list[Alert] = field(default_factory=list)  # the run's alerts, newest first


class RunsRefreshed(Message):
    """A batch of runs changed; ``phase`` is ``quick`` (tails only, all runs), ``full`` (all runs,
    read completely) or ``update`` (only the runs in the batch; status ``deleted`` = gone).
    ``alerts``: every judged run's alerts (a new map when any changed; None: no news)."""

    def __init__(
        self,
        summaries: list[RunSummary],
        focus: RunSnapshot | None,
        phase: str,
        alerts: dict[str, list[Alert]] | None = None,
    ) -> None:
        super().__init__()
        self.summaries = summaries
        self.focus = focus
        self.phase = phase
        self.alerts = alerts


class RunLoaded(Message):
    """The run view asked for a run (or other metric keys) and the worker loaded them."""

    def __init__(self, snapshot: RunSnapshot | None, error: str = "") -> None:
        super().__init__()
        self.snapshot = snapshot
        self.error = error
