"""Messages the follow worker posts to the UI: one per batch of changed run folders."""

from __future__ import annotations

from textual.message import Message

from runner.alerts.alert import Alert
from runner.runs.snapshot import RunSnapshot
from runner.runs.summary import RunSummary


class RunsRefreshed(Message):
    """A batch of runs changed; ``phase`` is ``quick`` (tails only, all runs), ``full`` (all runs,
    read completely) or ``update`` (only the runs in the batch; a summary marked ``removed``: gone).
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

    def can_replace(self, message: Message) -> bool:
        """Textual asks this (older, about to be handled) message whether the newer ``message`` queued
        right behind it may take its place. This one is folded into the newer one first, so no run's
        change is lost: the later summary per path wins, the newest alerts map and focus snapshot win."""
        if not isinstance(message, RunsRefreshed):
            return False
        if message.phase == "quick" and self.phase != "quick":  # never a tail-only list over a read
            return False
        message.absorb(self)
        return True

    def absorb(self, older: RunsRefreshed) -> None:
        """Fold ``older`` (not handled yet) into this newer batch. An update keeps ``older``'s phase and
        its runs this batch does not carry; a quick or full list replaces every run anyway."""
        if self.phase == "update":
            merged = {s.path: s for s in older.summaries}
            merged.update((s.path, s) for s in self.summaries)
            self.summaries = list(merged.values())
            self.phase = older.phase
        if self.alerts is None:  # None: no news, so the older map is still the newest
            self.alerts = older.alerts
        if self.focus is None:
            self.focus = older.focus


class RunLoaded(Message):
    """The run view asked for a run (or other metric keys) and the worker loaded them."""

    def __init__(self, snapshot: RunSnapshot | None, error: str = "") -> None:
        super().__init__()
        self.snapshot = snapshot
        self.error = error
