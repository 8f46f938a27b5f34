"""The runs list: one row per run folder, updated in place so cursor and scroll survive refreshes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets.data_table import ColumnKey, Row, RowKey

from runner.runs.summary import RunSummary
from runner.status import Status
from tui.format import ago, middle_cut, number, progress, short_key, spark, status_text, word_cut
from tui.prefetch import first_part
from tui.widgets.line_table import LineTable

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
FLAGS_WIDTH = next(width for key, _, width in COLUMNS if key == "flags")
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


def _keeps(order: list[str], shown: list[str]) -> bool:
    """``shown`` is ``order`` less some runs: the same runs in the same order."""
    rest = iter(order)
    return all(path in rest for path in shown)


def _path(row_key: RowKey | str) -> str:
    return row_key if isinstance(row_key, str) else str(row_key.value)


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


class RunTable(LineTable):
    """Runs as rows keyed by folder path."""

    # the DataTable's own enter (a row selected: the runs screen opens it), shown: the focused table's hidden
    # enter took the key from the screen's "Open" and the footer showed no way to open a run
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Open")]

    class Navigated(Message):
        """The user moved the cursor to another row (keys or mouse; not a re-sort)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._order: list[str] = []
        self._cache: dict[str, list[Text | str]] = {}
        self._source: dict[str, tuple[RunSummary, str]] = {}
        self.marked: Collection[str] = ()  # run paths marked for compare (the runs screen's set)
        self._placing = False  # show() is moving the cursor: not the user
        # rows off screen whose cells wait to be built: run path -> (summary, time, label) (see _update_rows)
        self._pending: dict[str, tuple[RunSummary, float, str]] = {}
        # the rows a first fill left for after its paint (tui.prefetch.first_part), with their time and labels
        self._rest: tuple[list[RunSummary], float, Mapping[str, str]] | None = None

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
        self._add_rest()  # a first fill still under way ends first: every row is there to update
        keep = self.selected_path()
        order = [s.path for s in rows]
        if order != self._order and len(order) == len(self._order) and set(order) == set(self._order):
            self._reorder(order, keep)  # the same runs in another order: no rows rebuilt
        if order == self._order:
            self._update_rows(rows, now, labels)
            return
        if self._grow(rows, order, now, labels, keep):
            return
        scroll = self.scroll_offset
        self.clear()  # drops the drawn rows too (_clear_caches)
        head = first_part(self.app.size.height)
        if self._order or len(rows) <= head:
            head = len(rows)
        else:  # an empty list's first fill: the first screens paint now, the rest right after that paint
            self._rest = (rows[head:], now, labels)
            self.call_after_refresh(self.call_later, self._add_rest)
        for s in rows[:head]:
            self.add_row(*self._row(s, now, labels.get(s.path, s.name)), key=s.path)
        self._order = order[:head]
        if keep in order:
            self.move_cursor(row=order.index(keep), animate=False, scroll=False)
        self.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)

    def _add_rest(self) -> None:
        """The rows a first fill left for after its paint (none: nothing to do)."""
        if self._rest is None:
            return
        rows, now, labels = self._rest
        self._rest = None
        self._append(rows, now, labels)
        self._order += [s.path for s in rows]

    def _grow(
        self,
        rows: list[RunSummary],
        order: list[str],
        now: float,
        labels: Mapping[str, str],
        keep: str | None,
    ) -> bool:
        """Runs added to those shown, after them or between them (the others keep their order: the start-up's
        other summaries after the first paint): the new rows are added, the rows shown kept (a clear and
        a fill built and drew every row again: ~0.1 s for 1,000); False when ``order`` is not such a growth."""
        shown = self._order
        if not shown or len(order) <= len(shown) or not _keeps(order, shown):
            return False
        known = set(shown)
        self._append([s for s in rows if s.path not in known], now, labels)
        self._reorder(order, keep)
        self._update_rows(rows, now, labels)
        return True

    def _append(self, rows: list[RunSummary], now: float, labels: Mapping[str, str]) -> None:
        """Add rows at the end, their cells built when drawn or read (see _settle), as ``add_row`` adds a
        one-line row (but for the cursor's events: the table has rows already, or the caller places it)."""
        start = len(self.rows)
        for index, s in enumerate(rows, start):
            key = RowKey(s.path)
            self._cache.pop(s.path, None)  # a run shown before: its old cells are not this row's
            self._source.pop(s.path, None)
            self._row_locations[key] = index
            self._data[key] = {}
            self.rows[key] = Row(key, 1)
            self._new_rows.add(key)
            self._pending[s.path] = (s, now, labels.get(s.path, s.name))
        self._require_update_dimensions = True
        self._update_count += 1
        self.check_idle()

    def _reorder(self, order: list[str], keep: str | None) -> None:
        """Show the rows in ``order`` (the same rows), the cursor on run ``keep``, the scroll where it was
        (as ``DataTable.sort`` does, by run path)."""
        self._row_locations = TwoWayDict({RowKey(path): i for i, path in enumerate(order)})
        self._update_count += 1
        self._order = order
        self.refresh()
        if keep is not None:
            self.move_cursor(row=order.index(keep), animate=False, scroll=False)

    def _update_rows(self, rows: list[RunSummary], now: float, labels: Mapping[str, str]) -> None:
        """New summaries for the rows shown, in their order: the rows on screen get their new cells now; a
        row off screen keeps its summary until it is drawn or read (see _settle), its cells unbuilt."""
        top = self.scroll_offset.y  # rows are one line high
        bottom = top + self.size.height
        waiting = False
        changed: list[int] = []
        for index, s in enumerate(rows):
            label = labels.get(s.path, s.name)
            if top <= index < bottom:
                self._pending.pop(s.path, None)
                old = self._cache.get(s.path)
                cells = self._row(s, now, label)
                if old is not cells and self._write_row(s.path, cells, old):
                    changed.append(index)
            elif self._waits(s, now, label):
                waiting = True
        if changed:  # repainted alone (the DataTable's ``update_cell`` repaints the whole table)
            self._update_count += 1  # the DataTable's own caches of cell renderables
            self.refresh_rows(changed)
        if waiting:
            self._update_count += 1  # the DataTable's caches of rows drawn before

    def _waits(self, s: RunSummary, now: float, label: str) -> bool:
        """Keep ``s`` for when its row is drawn; False when the row's cells are built from it already."""
        built = self._source.get(s.path)
        cells = self._cache.get(s.path)
        if (
            built is not None and cells is not None and built[0] is s
            and built[1] == self._label(s.path, label) and cells[UPDATED] == ago(s.last_change, now)
        ):  # fmt: skip
            self._pending.pop(s.path, None)
            return False
        self._pending[s.path] = (s, now, label)
        return True

    def _settle(self, path: str) -> None:
        """Build the cells of a row kept for later, if any (its row is about to be drawn or read)."""
        waiting = self._pending.pop(path, None)
        if waiting is not None:
            old = self._cache.get(path)
            cells = self._row(*waiting)
            if old is not cells:
                self._write_row(path, cells, old)

    def _settle_all(self) -> None:
        for path in list(self._pending):
            self._settle(path)

    def _write_row(self, path: str, cells: list[Text | str], old: list[Text | str] | None) -> bool:
        """Write the cells that changed; True when any did."""
        key = RowKey(path)
        data = self._data[key]
        before: list[Text | str | None] = list(old) if old else [None] * len(COLUMNS)
        changed = False
        for (col, _, _), value, was in zip(COLUMNS, cells, before, strict=True):
            if not same_cell(value, was):
                data[ColumnKey(col)] = value
                changed = True
        if changed:
            self._versions[key] = self._versions.get(key, 0) + 1
        return changed

    # --- a row kept for later is built before anything reads it -----------------------------------
    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Text | str:
        self._settle(_path(row_key))
        return super().get_cell(row_key, column_key)

    def get_row(self, row_key: RowKey | str) -> list[Text | str]:  # get_row_at and the drawing read here
        self._settle(_path(row_key))
        return super().get_row(row_key)

    def get_column(self, column_key: ColumnKey | str) -> Iterable[Text | str]:
        self._settle_all()
        return super().get_column(column_key)

    def sort(
        self, *columns: ColumnKey | str, key: Callable[[Any], Any] | None = None, reverse: bool = False
    ) -> Self:
        self._settle_all()
        return super().sort(*columns, key=key, reverse=reverse)

    def clear(self, columns: bool = False) -> Self:
        self._pending.clear()
        return super().clear(columns)

    def _settle_row(self, row_key: RowKey) -> None:
        if row_key.value in self._pending:
            self._settle(row_key.value)

    def _row(self, s: RunSummary, now: float, label: str) -> list[Text | str]:
        """The cells of one run, from the cache when neither the summary, its label nor its age text
        changed."""
        cached = self._cache.get(s.path)
        age = ago(s.last_change, now)
        label = self._label(s.path, label)
        source = self._source.get(s.path)
        fresh = source is not None and source[1] == label and (source[0] is s or source[0] == s)
        if cached is not None and fresh and cached[UPDATED] == age:
            return cached
        cells = self._cells(s, now, label)
        self._cache[s.path] = cells
        self._source[s.path] = (s, label)
        return cells

    def _label(self, path: str, label: str) -> str:
        return MARK + label if path in self.marked else label

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
            Text(
                word_cut(flags(s), FLAGS_WIDTH),
                style=row + Style(bold=True) if row is not None else self._style("warning"),
            ),
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
