"""Rows off screen keep their new summary and build their cells only when drawn or read (issue 12: with
100 runs appending, a second's update built the cells of every changed row, most of them off screen)."""

from __future__ import annotations

from dataclasses import replace

from tests.app.conftest import FROZEN_NOW
from tests.app.run_rows import TableApp, drawn_text, run_row, table_shown
from tui.widgets.run_table import RunTable


async def test_a_row_off_screen_is_built_when_it_comes_on_screen(built: list[str]) -> None:
    rows = [run_row(i) for i in range(60)]
    async with table_shown(rows, FROZEN_NOW) as (pilot, table):
        table.scroll_to(y=45, animate=False, immediate=True)  # row 50 drawn once, then left
        await pilot.pause()
        assert "run_050" in drawn_text(table, 50) and " 10 " in drawn_text(table, 50)
        table.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        built.clear()
        rows[2] = replace(rows[2], step=11)  # on screen
        rows[50] = replace(rows[50], step=11, headline_value=0.75)  # off screen
        table.show(rows, FROZEN_NOW)
        await pilot.pause()
        assert built == ["/runs/run_002"]  # the row off screen waits
        assert " 11 " in drawn_text(table, 2)
        table.scroll_to(y=45, animate=False, immediate=True)
        await pilot.pause()
        assert " 11 " in drawn_text(table, 50) and "0.75" in drawn_text(
            table, 50
        )  # never the row drawn before
        assert built == ["/runs/run_002", "/runs/run_050"]


async def test_a_row_off_screen_is_built_when_read(built: list[str]) -> None:
    rows = [run_row(i) for i in range(60)]
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, FROZEN_NOW)
        table.move_cursor(row=3)
        await pilot.pause()
        built.clear()
        changed = [replace(s, step=12) for s in rows]
        table.show(changed, FROZEN_NOW)
        await pilot.pause()
        assert "/runs/run_040" not in built and len(built) < 25  # a screenful at most
        assert str(table.get_row_at(40)[3]) == "12" and str(table.get_cell("/runs/run_041", "step")) == "12"
        assert [str(c) for c in table.get_column("step")] == ["12"] * 60
        assert table.selected_path() == "/runs/run_003" and table.order == [s.path for s in rows]
        table.show(changed[::-1], FROZEN_NOW)  # a new order: rows kept for later come along
        await pilot.pause()
        assert table.order == [s.path for s in changed[::-1]] and table.selected_path() == "/runs/run_003"


async def test_a_row_region_is_the_one_the_datatable_computes() -> None:
    """RunTable places a row by its index (every row is one line); the DataTable sums the rows above."""
    from textual.widgets import DataTable

    rows = [run_row(i) for i in range(60)]
    async with table_shown(rows, FROZEN_NOW) as (pilot, table):
        table.scroll_to(y=30, animate=False, immediate=True)
        for index in (-1, 0, 1, 29, 31, 59, 60):
            assert table._get_row_region(index) == DataTable._get_row_region(table, index), index
