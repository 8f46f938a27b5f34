"""The runs list: one row per run folder, updated in place so cursor and scroll survive refreshes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from runner.runs.summary import RunSummary
from runner.status import Status
from tui.format import ago, middle_cut, number, progress, short_key, spark, status_text

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

COLUMNS = (
    ("name", "Run", 20),
    ("kind", "Kind", 7),
    ("status", "Status", 10),
    ("step", "Step", 5),
    ("progress", "Prog", 4),
    ("metric", "Headline", 14),
    ("value", "Value", 9),
    ("trend", "Trend", 12),
    ("updated", "Updated", 8),
    ("flags", "Flags", 11),
)

UPDATED = [c[0] for c in COLUMNS].index("updated")
NAME_WIDTH = COLUMNS[0][2]
MARK = "● "  # before the name of a marked run (space marks, c compares)

# status -> theme variable: the one colour map of statuses (the runs list, the run view's info bar)
STATUS_VARS: dict[Status, str] = {
    Status.RUNNING: "accent",
    Status.STARTING: "primary",
    Status.QUEUED: "primary",
    Status.FINISHED: "success",
    Status.FAILED: "error",
    Status.LOST: "error",
    Status.STALE: "warning",
    Status.STOPPED: "secondary",
}

SORTS: dict[str, Callable[[RunSummary], SupportsRichComparison]] = {
    "updated": lambda s: -(s.last_change or 0.0),
    "name": lambda s: s.name.lower(),
    "status": lambda s: (s.status, s.name.lower()),
    "step": lambda s: -(s.step or -1),
    "value": lambda s: (
        -(s.headline_value if s.headline_value is not None and _finite(s.headline_value) else -1e308)
    ),
}


def _finite(v: float | None) -> bool:
    return v is not None and v == v and abs(v) != float("inf")


# alert severity -> theme variable for the row (the alerts view uses the same)
ALERT_VARS = {"critical": "error", "warning": "warning"}


def same_cell(a: Text | str | None, b: Text | str | None) -> bool:
    """Cells drawn alike: ``Text ==`` compares text and spans only, not the style of the whole (a row
    turning red when its run gets an alert keeps its text)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a == b and a.style == b.style
    return type(a) is type(b) and a == b


def flags(summary: RunSummary) -> str:
    """Short marks: the worst alert, bad lines, foreign folder, no metrics."""
    marks = [summary.alert_flag] if summary.alert_flag else []
    if summary.unreadable:
        marks.append(f"⚠{summary.unreadable}")
    if summary.bad_lines:
        marks.append(f"⚠{summary.bad_lines} bad")
    if summary.kind == "foreign":
        marks.append("foreign")
    elif summary.n_lines == 0 and summary.step is None:
        marks.append("no metrics")
    return " ".join(marks)


class RunTable(DataTable[Text | str]):
    """Runs as rows keyed by folder path."""

    class Navigated(Message):
        """The user moved the cursor to another row (keys or mouse; not a re-sort)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._order: list[str] = []
        self._cache: dict[str, list[Text | str]] = {}
        self._source: dict[str, tuple[RunSummary, str]] = {}
        self.marked: Collection[str] = ()  # run paths marked for compare (the runs screen's set)
        self._placing = False  # show() is moving the cursor: not the user

    @property
    def order(self) -> list[str]:
        """The run paths in the order shown."""
        return list(self._order)

    def watch_cursor_coordinate(self, old_coordinate: Coordinate, new_coordinate: Coordinate) -> None:
        super().watch_cursor_coordinate(old_coordinate, new_coordinate)
        if not self._placing and old_coordinate.row != new_coordinate.row:
            self.post_message(self.Navigated())

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def selected_path(self) -> str | None:
        """The folder of the row under the cursor."""
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def show(
        self,
        rows: list[RunSummary],
        now: float,
        labels: Mapping[str, str] | None = None,
        marked: Collection[str] | None = None,
    ) -> None:
        """Show ``rows`` in this order; keeps the cursor on the same run and the scroll offset.

        ``labels``: the name shown per run path (default: the folder name); ``marked``: run paths shown
        with a mark. Only rows whose summary, label or mark changed (or whose "ago" text moved) are
        re-rendered.
        """
        if marked is not None:
            self.marked = marked
        self._placing = True
        try:
            self._show(rows, now, labels or {})
        finally:
            self._placing = False

    def _show(self, rows: list[RunSummary], now: float, labels: Mapping[str, str]) -> None:
        keep = self.selected_path()
        order = [s.path for s in rows]
        if order == self._order:
            for s in rows:
                old = self._cache.get(s.path)
                cells = self._row(s, now, labels.get(s.path, s.name))
                if old is not cells:
                    before: list[Text | str | None] = list(old) if old else [None] * len(COLUMNS)
                    for (col, _, _), value, was in zip(COLUMNS, cells, before, strict=True):
                        if not same_cell(value, was):
                            self.update_cell(s.path, col, value)
            return
        scroll = self.scroll_offset
        self.clear()
        for s in rows:
            self.add_row(*self._row(s, now, labels.get(s.path, s.name)), key=s.path)
        self._order = order
        if keep in order:
            self.move_cursor(row=order.index(keep), animate=False, scroll=False)
        self.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)

    def _row(self, s: RunSummary, now: float, label: str) -> list[Text | str]:
        """The cells of one run, from the cache when neither the summary, its label nor its age text
        changed."""
        cached = self._cache.get(s.path)
        age = ago(s.last_change, now)
        label = MARK + label if s.path in self.marked else label
        source = self._source.get(s.path)
        fresh = source is not None and source[1] == label and (source[0] is s or source[0] == s)
        if cached is not None and fresh and cached[UPDATED] == age:
            return cached
        cells = self._cells(s, now, label)
        self._cache[s.path] = cells
        self._source[s.path] = (s, label)
        return cells

    def _cells(self, s: RunSummary, now: float, label: str) -> list[Text | str]:
        """One row; a run with a warning or critical alert is drawn amber or red (but for its status
        and trend, which keep their own colours)."""
        alarm = ALERT_VARS.get(s.alert_severity)
        row = self._style(alarm) if alarm else None

        def cell(text: str) -> Text | str:  # Text: a name like ``sweep[lr=1e-4]`` is never read as markup
            return Text(text, style=row if row is not None else "", no_wrap=True, end="")

        return [
            self._name_cell(label, cell),
            cell(s.kind),
            Text(status_text(s), style=self._style(STATUS_VARS.get(s.status, "foreground-muted"))),
            cell("-" if s.step is None else str(s.step)),
            cell(progress(s.progress)),
            cell(short_key(s.headline_key)),
            cell("-" if s.headline_value is None else number(s.headline_value, short=True)),
            Text(spark(s.spark, 12), style=self._style("primary")),
            ago(s.last_change, now),
            Text(flags(s), style=row + Style(bold=True) if row is not None else self._style("warning")),
        ]

    def _name_cell(self, label: str, cell: Callable[[str], Text | str]) -> Text | str:
        """The name cell; a marked run's label starts with the mark, drawn in the accent colour."""
        if not label.startswith(MARK):
            return cell(middle_cut(label, NAME_WIDTH))
        name = cell(middle_cut(label[len(MARK) :], NAME_WIDTH - len(MARK)))
        return Text.assemble((MARK, self._style("accent") + Style(bold=True)), name, no_wrap=True, end="")

    def _style(self, variable: str) -> Style:
        value = self.app.theme_variables.get(variable)
        if not value:
            return Style()
        return Style(color=Color.parse(value).rich_color)
