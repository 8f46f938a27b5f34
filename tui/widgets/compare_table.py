"""The compare view's table: one row per run (its colour, kind, status, step, duration, alerts) and the
last, min, max, best step and smoothed-last of the metrics that matter for its kind; sortable by any
column, filterable by words, exported (as shown: filtered and sorted) to CSV or JSON lines."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from runner.compare import CompareTable, TableRow, table_to_csv, table_to_records
from tui.format import middle_cut, number, short_key
from tui.widgets.compare_chart import RGB, swatch

RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Run"),
    ("kind", "Kind"),
    ("status", "Status"),
    ("step", "Step"),
    ("duration_s", "Time"),
    ("alerts", "Alerts"),
)
STATS = (("last", "last"), ("min", "min"), ("max", "max"), ("best_step", "best@"), ("smoothed_last", "ema"))
NAME_WIDTH = 24
Value = float | int | str | None


def columns_of(table: CompareTable) -> list[tuple[str, str]]:
    """(column key, label) of every column but the colour swatch: the run's, then 5 per metric."""
    metric_cols = [(f"{m}:{k}", f"{short_key(m)} {label}") for m in table.metrics for k, label in STATS]
    return list(RUN_COLUMNS) + metric_cols


def cell_value(row: TableRow, column: str) -> Value:
    """The raw value of ``column`` (``name``... or ``<metric>:<stat>``) in ``row``."""
    if ":" not in column or column in dict(RUN_COLUMNS):
        value: Value = getattr(row, column)
        return value
    metric, stat = column.rsplit(":", 1)
    stats = row.metrics.get(metric)
    return None if stats is None else getattr(stats, stat)


def sort_key(column: str) -> Callable[[TableRow], tuple[int, float, str]]:
    """Rows by ``column``: numbers by value, text by itself; missing and NaN values last."""

    def key(row: TableRow) -> tuple[int, float, str]:
        value = cell_value(row, column)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "") if math.isfinite(value) else (1, 0.0, "")
        return (0 if value else 1, 0.0, str(value or "").lower())

    return key


def row_matches(row: TableRow, text: str) -> bool:
    """Every word of ``text`` is in the run's name, path, kind, status or alert flag."""
    hay = " ".join((row.name, row.path, row.kind, row.status, row.alert_flag)).lower()
    return all(word in hay for word in text.lower().split())


def _text(column: str, value: Value) -> str:
    if value is None:
        return "-"
    if column == "duration_s" and isinstance(value, int | float):
        return duration(float(value))
    if isinstance(value, float):
        return number(value, short=True)
    return str(value)


def duration(seconds: float) -> str:
    """``42s``, ``12m``, ``3.5h``."""
    if not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"


class CompareTableView(DataTable[Text | str]):
    """The table as shown: ``sort_column`` (reversed with ``descending``) and ``filter_text`` applied."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.table: CompareTable | None = None
        self.colours: dict[str, RGB] = {}
        self.sort_column = ""  # "" = the order the runs were marked in
        self.descending = False
        self.filter_text = ""
        self.rows_shown: list[TableRow] = []

    def show(self, table: CompareTable, colours: Mapping[str, RGB]) -> None:
        """New figures (a live run moved on): the cursor stays on its run."""
        self.table = table
        self.colours = dict(colours)
        self._refill()

    def columns_cycle(self) -> list[str]:
        return [key for key, _ in columns_of(self.table)] if self.table is not None else []

    def cycle_sort(self) -> str:
        """Sort by the next column (after the last: the marking order); returns its label."""
        cycle = [""] + self.columns_cycle()
        i = cycle.index(self.sort_column) if self.sort_column in cycle else 0
        self.sort_column = cycle[(i + 1) % len(cycle)]
        self._refill()
        return self.sort_label()

    def reverse(self) -> None:
        self.descending = not self.descending
        self._refill()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._refill()

    def sort_label(self) -> str:
        if not self.sort_column:
            return "marked order"
        labels = dict(columns_of(self.table)) if self.table is not None else {}
        return f"{labels.get(self.sort_column, self.sort_column)} {'desc' if self.descending else 'asc'}"

    def shown_table(self) -> CompareTable | None:
        """What is on screen (filtered, sorted) as a ``CompareTable``: what export writes."""
        return replace(self.table, rows=tuple(self.rows_shown)) if self.table is not None else None

    def _refill(self) -> None:
        table = self.table
        if table is None:
            return
        rows = [r for r in table.rows if row_matches(r, self.filter_text)]
        if self.sort_column:
            rows.sort(key=sort_key(self.sort_column))
            if self.descending:  # missing values stay last
                present = [r for r in rows if sort_key(self.sort_column)(r)[0] == 0]
                rows = present[::-1] + rows[len(present) :]
        self.rows_shown = rows
        keep, scroll = self._cursor_path(), self.scroll_offset
        cols = columns_of(table)
        self.clear(columns=True)
        self.add_column("", key="colour", width=2)
        for key, label in cols:
            self.add_column(Text(label), key=key)  # a metric named ``x/[y]`` is not markup either
        for row in rows:
            colour = self.colours.get(row.path, (128, 128, 128))
            cells: list[Text | str] = [swatch(colour)]
            cells += [self._cell(row, key, colour) for key, _ in cols]
            self.add_row(*cells, key=row.path)
        paths = [r.path for r in rows]
        if keep in paths:
            self.move_cursor(row=paths.index(keep), animate=False, scroll=False)
        self.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)

    @staticmethod
    def _cell(row: TableRow, key: str, colour: RGB) -> Text | str:
        text = _text(key, cell_value(row, key))
        if key == "name":
            return swatch(colour, middle_cut(text, NAME_WIDTH))
        return Text(text)  # a note or status with ``[...]`` in it is shown as written, never as markup

    def _cursor_path(self) -> str | None:
        rows = self.rows_shown
        if self.row_count and 0 <= self.cursor_row < self.row_count:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        return rows[0].path if rows else None


def export_path(folder: Path, suffix: str, now: float | None = None) -> Path:
    """``folder/compare-<date>-<time><suffix>``, never an existing file: ``-2``, ``-3``... when taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    path = folder / f"compare-{stamp}{suffix}"
    n = 2
    while path.exists():
        path = folder / f"compare-{stamp}-{n}{suffix}"
        n += 1
    return path


def export(table: CompareTable, folder: Path, fmt: str) -> Path:
    """Write ``table`` as ``csv`` or ``json`` (JSON lines: one record per run, NaN as "NaN") to a new
    file in ``folder`` (created exclusively: an existing file is never overwritten); its path."""
    from runner.runs.cli import jsonable

    if fmt == "csv":
        text = table_to_csv(table)
    else:
        text = "".join(json.dumps(jsonable(rec)) + "\n" for rec in table_to_records(table))
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = export_path(folder, ".csv" if fmt == "csv" else ".jsonl")
        try:
            with open(path, "x", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except FileExistsError:  # taken between the check and the open: pick the next name
            continue
