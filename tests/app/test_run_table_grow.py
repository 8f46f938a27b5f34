"""Runs added to those shown (issue 12: the start-up's other 900 summaries after the first paint): the new rows
are added, each built when drawn or read; the rows shown, the cursor, the scroll and the marks are kept (the
list was cleared and all 1,000 rows built and added again: ~0.1 s on the app's loop)."""

from __future__ import annotations

from dataclasses import replace

from tests.app.conftest import FROZEN_NOW
from tests.app.run_rows import TableApp, drawn_text, run_row, table_shown
from tui.widgets.run_table import MARK, RunTable


async def test_runs_added_between_the_rows_shown_build_only_the_rowsdrawn_text(built: list[str]) -> None:
    rows = [run_row(i, digits=4) for i in range(400)]
    first = rows[::4]  # 100 runs shown; the 300 others come between them
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(first, FROZEN_NOW, marked={rows[8].path: None})
        await pilot.pause()
        table.move_cursor(row=3, animate=False)  # run 12
        table.scroll_to(y=2, animate=False, immediate=True)
        await pilot.pause()
        built.clear()
        grown = [replace(s, step=11) if s.path == rows[8].path else s for s in rows]
        table.show(grown, FROZEN_NOW)
        await pilot.pause()
        assert table.order == [s.path for s in rows] and table.row_count == 400
        assert len(built) < 25  # a screenful, not the 300 new rows
        assert table.selected_path() == rows[12].path and table.scroll_offset.y == 2
        assert MARK in drawn_text(table, 8) and " 11 " in drawn_text(
            table, 8
        )  # the mark kept, the change drawn
        assert "run_0005" in drawn_text(table, 5)  # a new row on screen
        assert str(table.get_cell(rows[399].path, "name")) == "run_0399"  # one off screen, when read
        assert [str(c) for c in table.get_column("step")] == ["11" if i == 8 else "10" for i in range(400)]
        table.scroll_to(y=300, animate=False, immediate=True)
        await pilot.pause()
        assert "run_0301" in drawn_text(table, 301)
        table.sort("name", key=str, reverse=True)  # the DataTable's own sort reads every row
        assert [table.get_row_at(i)[0].plain for i in (0, 2)] == [f"{MARK}run_0008", "run_0398"]


async def test_a_run_shown_before_comes_back_with_its_new_cells() -> None:
    rows = [run_row(i) for i in range(30)]
    async with table_shown(rows, FROZEN_NOW) as (pilot, table):
        table.show(rows[:10], FROZEN_NOW)  # runs gone (a filter)
        await pilot.pause()
        again = [replace(s, step=20) if s.path == rows[25].path else s for s in rows]
        table.show(again, FROZEN_NOW)  # and back, one of them changed meanwhile
        await pilot.pause()
        assert table.order == [s.path for s in rows]
        assert [str(c) for c in table.get_column("step")] == ["20" if i == 25 else "10" for i in range(30)]
        table.scroll_to(y=20, animate=False, immediate=True)
        await pilot.pause()
        assert " 20 " in drawn_text(table, 25) and "run_024" in drawn_text(table, 24)


async def test_a_grown_list_that_is_not_a_growth_is_filled_again() -> None:
    rows = [run_row(i) for i in range(30)]
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows[:10], FROZEN_NOW)
        await pilot.pause()
        table.move_cursor(row=4, animate=False)
        other = rows[10:][::-1] + rows[:10][::-1]  # the runs shown in another order, new ones first
        table.show(other, FROZEN_NOW)
        await pilot.pause()
        assert table.order == [s.path for s in other] and table.selected_path() == rows[4].path
        assert "run_005" in drawn_text(table, 24)
