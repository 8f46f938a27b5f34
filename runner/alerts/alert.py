"""The typed alert that crosses into the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
LEVEL: dict[str, int] = {"info": 1, "warning": 2, "critical": 3}


def severity_of(level: int) -> Severity:
    """1 -> info, 2 -> warning, 3 -> critical."""
    return SEVERITIES[max(1, min(3, int(level))) - 1]


@dataclass(frozen=True)
class Alert:
    """One episode of one rule on one metric of one run (it fires once; ``active`` until it recovers)."""

    run_path: str
    rule: str
    severity: Severity
    metric: str  # the metric key, or a pseudo-metric for file rules ("status", "metrics.jsonl", "logs.log")
    first_step: int | None
    last_step: int | None
    value: float | None  # the worst value of the episode (minutes for "stalled", exit code for "crashed")
    threshold: float | None  # the threshold or baseline it was judged against
    window: str  # what the value was judged over, in words ("trailing 100 points", "first 10 steps")
    message: str  # one full sentence with the evidence
    flag: str  # a few characters for the runs list: "KL 0.08", "entropy x4", "NaN loss"
    active: bool = True  # the episode is still going on (False: the run recovered)
    direction: int = 1  # +1: higher is worse, -1: lower is worse (acks compare values this way)
    acked: bool = False

    @property
    def key(self) -> str:
        """Identity for acks and dedupe: run, rule, metric and where the episode began."""
        return f"{self.run_path}|{self.rule}|{self.metric}|{self.first_step}"

    @property
    def level(self) -> int:
        return LEVEL[self.severity]


def worst(alerts: list[Alert]) -> Alert | None:
    """The alert for a run's flag: unacked and active first, then the most severe, then the newest."""
    if not alerts:
        return None

    def rank(a: Alert) -> tuple[int, int, int, int]:
        return (not a.acked, a.active, a.level, a.last_step if a.last_step is not None else -1)

    return max(alerts, key=rank)
