"""What the compare view's thread workers post: one message per batch read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from runner.compare import CompareTable, ConfigDiff
    from runner.runs.snapshot import Series
    from tui.widgets.compare_chart import GroupBands


class SeriesRead(Message):
    """A batch of series (metric -> run path -> series; only those that changed) and, on the first
    read, the runs' metric keys, headline metrics and the overlay's metric; ``groups``: the overlay
    metric's group lines."""

    def __init__(
        self,
        series: dict[str, dict[str, Series]],
        keys: list[str] | None = None,
        headline: list[str] | None = None,
        groups: GroupBands | None = None,
        metric: str = "",
    ) -> None:
        super().__init__()
        self.series = series
        self.metric = metric
        self.keys = keys
        self.headline = headline
        self.groups = groups


class TableRead(Message):
    def __init__(self, table: CompareTable) -> None:
        super().__init__()
        self.table = table


class DiffRead(Message):
    def __init__(self, diff: ConfigDiff) -> None:
        super().__init__()
        self.diff = diff
