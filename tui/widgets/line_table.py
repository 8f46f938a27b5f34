"""A DataTable of one-line rows in fixed-width columns, drawn at the cost of what changed (issue 12: the runs
list with 100 runs appending a line a second)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from tui.widgets.cell_line import cell_line

if TYPE_CHECKING:
    from textual._types import SegmentLines

DRAWN_MAX = 4000  # drawn rows kept (a few screens of them, with cursor and hover variants)


class LineTable(DataTable[Text | str]):
    """A DataTable whose rows are all one line high and whose columns all have a fixed width (add rows
    without ``height``, columns with ``width``). A subclass that changes a row's cells bumps
    ``_versions[row_key]``: the row is drawn again; other rows are reused as drawn."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # drawn rows kept across updates of other rows (see _render_line_in_row)
        self._drawn: dict[tuple, tuple[SegmentLines, SegmentLines]] = {}
        self._versions: dict[RowKey, int] = {}  # row -> how many times its cells changed
        self._pre_styles: dict[tuple[Style, Style, int, int], Style] = {}  # see _cell_styles

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """One drawn row, reused until its own cells, its place, the cursor or hover on it, or the styles
        change (the DataTable keys its cache on a count that any cell update moves, so one run appending
        re-rendered every visible row)."""
        index = self._row_locations.get(row_key)
        if index is None:  # the header
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        key = (
            row_key, index, line_no, base_style, cursor_location.row == index, hover_location.row == index,
            self.cursor_type, self.show_cursor, self._show_hover_cursor, self._pseudo_class_state,
            self.size.width, self._versions.get(row_key, 0),
        )  # fmt: skip
        drawn = self._drawn.get(key)
        if drawn is None:
            if len(self._drawn) > DRAWN_MAX:
                self._drawn.clear()
            drawn = super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
            self._drawn[key] = drawn
        return drawn

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """A body cell drawn straight from its Text (:func:`cell_line`: every row is one line); the header,
        and any cell that cannot be drawn so, by the DataTable (rich's ``render_lines`` per cell)."""
        if row_index >= self.fixed_rows and column_index >= self.fixed_columns:
            cell = self._get_row_renderables(row_index).cells[column_index]
            pre, post = self._cell_styles(row_index, column_index, base_style, cursor, hover)
            line = cell_line(cell, width, self.cell_padding, pre, post, self.app.console.get_style)
            if line is not None:
                return [line]
        return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)

    def _cell_styles(
        self, row_index: int, column_index: int, base_style: Style, cursor: bool, hover: bool
    ) -> tuple[Style, Style]:
        """The styles the DataTable gives a body cell: before its own (row, meta, cursor, hover) and after."""
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
        )  # fmt: skip
        key = (base_style, component, row_index, column_index)
        pre = self._pre_styles.get(key)
        if pre is None:
            if len(self._pre_styles) > DRAWN_MAX:
                self._pre_styles.clear()
            pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
            self._pre_styles[key] = pre
        return pre, post

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """The table's size. Every column has a fixed width and every row is one line, so the DataTable's
        measuring of each new cell (10 a row: 1,000 rows at the first paint) would change nothing."""
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)
            return
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width + self._row_label_column_width, self._total_row_height + header)

    def _get_row_region(self, row_index: int) -> Region:
        """The region of a row: every row is one line, so its place is its index (the DataTable sums the
        heights of the rows above it, after listing every row anew when any cell changed: with 1,000 rows,
        a third of the main thread's time while 100 runs append)."""
        if not self.is_valid_row_index(row_index):
            return Region(0, 0, 0, 0)
        width = sum(column.get_render_width(self) for column in self.columns.values())
        y = row_index + (self.header_height if self.show_header else 0)
        return Region(0, y, max(self.size.width, width + self._row_label_column_width), 1)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._drawn.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()
