"""A DataTable of one-line rows in fixed-width columns, drawn at the cost of what changed (issue 12: the runs
list with 100 runs appending a line a second)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import default_cell_formatter
from textual.widgets.data_table import RowKey

from tui.widgets.cell_line import cell_line

if TYPE_CHECKING:
    from textual._types import SegmentLines

_EMPTY = Text(no_wrap=True, end="")  # a cell without a value (the DataTable's _EMPTY_TEXT)
DRAWN_MAX = 4000  # drawn rows kept (a few screens of them, with cursor and hover variants)


class LineTable(DataTable[Text | str]):
    """A DataTable whose rows are all one line high and whose columns all have a fixed width (add rows
    without ``height``, columns with ``width``). A subclass that changes a row's cells replaces them (never
    changes a Text in place) and bumps ``_versions[row_key]``: the row is drawn again, its changed cells
    alone; other rows are reused as drawn."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # drawn rows kept across updates of other rows (see _render_line_in_row)
        self._drawn: dict[tuple, tuple[SegmentLines, SegmentLines]] = {}
        self._versions: dict[RowKey, int] = {}  # row -> how many times its cells changed
        self._pre_styles: dict[tuple[Style, Style, int, int], Style] = {}  # see _cell_styles
        self._strips: dict[tuple, Strip] = {}  # body lines drawn (see render_line)
        # body cells drawn: (row, column) -> (value, styles before and after, width, segments)
        self._cells_drawn: dict[tuple[RowKey, int], tuple[object, Style, Style, int, list[Segment]]] = {}
        self._frame_style: Style | None = None  # the widget's style while a frame is drawn

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = self.rich_style  # once a frame, not once a line (it walks the widget's parents)
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        """A body row's line drawn here, reused until its cells, place, cursor, hover or styles change; the
        header (and any table not of one-line rows under a row cursor) by the DataTable, whose own line
        caches a change to any cell drops (issue 12: the rows that change each second, drawn again)."""
        header = self.header_height if self.show_header else 0
        if y < header or not self._plain_rows():
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        index = y - header + scroll_y
        row_key = self._row_locations.get_key(index)
        if row_key is None:
            return super().render_line(y)
        self._settle_row(row_key)
        base_style = self._frame_style if self._frame_style is not None else self.rich_style
        cursor, hover = self._cursor_and_hover(index)
        width = self.size.width
        key = (
            row_key, index, base_style, cursor, hover, self.show_cursor, self._show_hover_cursor,
            self._pseudo_class_state, width, scroll_x, self._versions.get(row_key, 0), len(self.columns),
        )  # fmt: skip
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > DRAWN_MAX:
                self._strips.clear()
            line = self._body_segments(row_key, index, base_style, cursor, hover)
            segments = line_crop(line, scroll_x, scroll_x + width, width)
            strip = Strip(list(Segment.simplify(segments)))  # one Strip: each builds several caches
            if strip.cell_length != width:
                strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
            self._strips[key] = strip
        return strip

    def _cursor_and_hover(self, index: int) -> tuple[bool, bool]:
        return self.cursor_coordinate.row == index, self.hover_coordinate.row == index

    def _plain_rows(self) -> bool:
        """Rows drawn as :meth:`_body_segments` draws them: a row cursor, no fixed rows or columns, no labels."""
        return (
            self.cursor_type == "row" and not self.fixed_rows and not self.fixed_columns
            and not (self._labelled_row_exists and self.show_row_labels)
        )  # fmt: skip

    def _body_segments(
        self, row_key: RowKey, index: int, base_style: Style, cursor: bool, hover: bool
    ) -> list[Segment]:
        """Body row ``index`` as the DataTable's ``_render_line_in_row`` draws it under a row cursor: its
        cells, then the row's style to the widget's edge."""
        row_style = self._get_row_style(index, base_style)
        columns = self.ordered_columns
        widths = [column.get_render_width(self) for column in columns]
        component, post = self._cursor_styles(cursor, hover)
        data = self._data[row_key]
        out: list[Segment] = []
        for column_index, (column, width) in enumerate(zip(columns, widths, strict=True)):
            pre = self._pre_style(row_style, component, index, column_index)
            line = self._body_cell(row_key, column_index, data.get(column.key), pre, post, width)
            if line is None:  # not a plain one-line text: drawn by the DataTable
                line = super()._render_cell(index, column_index, row_style, width, cursor, hover)[0]
            out += line
        extend, _ = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor, False, False
        )
        extend = row_style + extend + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        room = max(0, self.size.width - sum(widths) - self._row_label_column_width)
        out.append(Segment(" " * room, extend))
        return out

    def _body_cell(
        self, row_key: RowKey, column_index: int, value: object, pre: Style, post: Style, width: int
    ) -> list[Segment] | None:
        """One body cell, reused while its value (the same object: cells are replaced, never changed in place)
        and its styles are the ones it was drawn with: a row that changes draws only its changed cells. None
        when it is not a plain one-line text (:func:`cell_line`)."""
        drawn = self._cells_drawn.get((row_key, column_index))
        if (
            drawn is not None
            and drawn[0] is value
            and drawn[1] == pre
            and drawn[2] == post
            and drawn[3] == width
        ):
            return drawn[4]
        cell = _EMPTY if value is None else default_cell_formatter(value, wrap=False, height=1) or _EMPTY
        line = cell_line(cell, width, self.cell_padding, pre, post, self.app.console.get_style)
        if line is not None:
            self._cells_drawn[(row_key, column_index)] = (value, pre, post, width, line)
        return line

    def _settle_row(self, row_key: RowKey) -> None:
        """A subclass builds the cells of a row it kept for later here (the row is about to be drawn)."""

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
        self._settle_row(row_key)
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
        component, post = self._cursor_styles(cursor, hover)
        return self._pre_style(base_style, component, row_index, column_index), post

    def _cursor_styles(self, cursor: bool, hover: bool) -> tuple[Style, Style]:
        return self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
        )  # fmt: skip

    def _pre_style(self, base_style: Style, component: Style, row_index: int, column_index: int) -> Style:
        key = (base_style, component, row_index, column_index)
        pre = self._pre_styles.get(key)
        if pre is None:
            if len(self._pre_styles) > DRAWN_MAX:
                self._pre_styles.clear()
            pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
            self._pre_styles[key] = pre
        return pre

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

    def refresh_rows(self, indexes: Iterable[int]) -> None:
        """Repaint the rows at ``indexes`` (on screen) in one refresh: each refresh of a widget drops its
        caches (``refresh_row`` per row: 40 a second while 100 runs append)."""
        x, y = self.scroll_offset
        y -= self.header_height if self.show_header else 0
        width = sum(column.get_render_width(self) for column in self.columns.values())
        width = max(self.size.width, width + self._row_label_column_width)
        self.refresh(*(Region(-x, index - y, width, 1) for index in indexes))

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._drawn.clear()
        self._strips.clear()
        self._cells_drawn.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()
        self._strips.clear()
        self._cells_drawn.clear()
