"""The runs list draws its body lines itself (issue 12: with 100 runs appending, the DataTable's own line drawing
of each changed row was most of the main thread's time): every line must look exactly as the DataTable draws
it, an unchanged row is not drawn again when another changes, and a changed row draws only its changed cells."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.widgets import DataTable

import tui.widgets.line_table as line_table
from tests.app.run_rows import TableApp, run_row, table_shown
from tui.widgets.run_table import RunTable

FROZEN = 1_780_003_600.0


def _rows() -> list:
    return [
        run_row(1),
        replace(run_row(2), path="/runs/marked", name="marked"),
        replace(run_row(3), alert_flag="NaN loss", alert_severity="critical"),
        replace(run_row(4), alert_flag="KL 0.08", alert_severity="warning", bad_lines=2),
        replace(run_row(5), name="训练运行_中文名字_很长很长很长很长"),
        replace(run_row(6), name="x", kind="", step=None, headline_key=None, headline_value=None, spark=[]),
        replace(run_row(9), kind="foreign", n_lines=0, step=None, last_change=None, progress=None),
    ]


def _chars(line: list[Segment]) -> list[tuple[str, Style | None]]:
    return [(ch, seg.style) for seg in line for ch in seg.text]


@pytest.mark.parametrize("width", [140, 70])  # 70: the table is wider than the widget, cropped and scrolled
async def test_every_body_line_is_drawn_as_the_datatable_draws_it(width: int) -> None:
    rows = _rows()
    app = TableApp()
    async with app.run_test(size=(width, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, FROZEN, marked={"/runs/marked"})
        await pilot.pause()
        compared = 0
        for scroll_x in (0, 13) if width < 140 else (0,):
            table.scroll_to(x=scroll_x, animate=False, immediate=True)
            await pilot.pause()
            for cursor, hover, shown in ((0, 0, False), (2, 4, True), (3, 3, True), (5, 1, False)):
                table.move_cursor(row=cursor, animate=False)
                table.hover_coordinate = table.hover_coordinate._replace(row=hover)
                table._show_hover_cursor = shown
                await pilot.pause()
                for y in range(1, len(rows) + 1):
                    fast = table.render_line(y)
                    slow = DataTable.render_line(table, y)
                    assert _chars(list(fast)) == _chars(list(slow)), (scroll_x, cursor, hover, y)
                    assert fast.cell_length == slow.cell_length == table.size.width
                    compared += 1
        assert compared == len(rows) * 4 * (2 if width < 140 else 1)


async def test_an_unchanged_row_is_not_drawn_again_when_another_changes() -> None:
    rows = [run_row(i) for i in range(10)]
    async with table_shown(rows, FROZEN) as (pilot, table):
        before = [table.render_line(y) for y in (1, 3)]
        rows[2] = replace(rows[2], step=11)
        table.show(rows, FROZEN)
        await pilot.pause()
        after = [table.render_line(y) for y in (1, 3)]
        assert after[0] is before[0]  # row 0: the line drawn before
        assert after[1] is not before[1] and " 11 " in after[1].text


async def test_a_changed_row_draws_only_its_changed_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    cell_line = line_table.cell_line

    def counting(cell, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(str(cell))
        return cell_line(cell, *args, **kwargs)

    monkeypatch.setattr(line_table, "cell_line", counting)  # seam: a counting wrapper, not a mock
    rows = [run_row(i) for i in range(10)]
    async with table_shown(rows, FROZEN) as (pilot, table):
        drawn.clear()
        rows[2] = replace(rows[2], step=11)
        table.show(rows, FROZEN)
        await pilot.pause()
        assert drawn == ["11"]  # the step cell alone
        assert " 11 " in table.render_line(3).text and "run_002" in table.render_line(3).text


async def test_lines_follow_the_zebra_stripes_setting() -> None:
    """A line drawn before ``zebra_stripes`` changes is not reused after it (the setting is not in the drawn
    lines' key: changing it drops them, as the DataTable drops its own caches): the odd rows take the stripe."""
    rows = [run_row(i) for i in range(4)]
    async with table_shown(rows, FROZEN) as (pilot, table):
        table.move_cursor(row=3, animate=False)
        await pilot.pause()
        for zebra in (True, False):
            table.zebra_stripes = zebra
            await pilot.pause()
            for y in (1, 2):
                assert _chars(list(table.render_line(y))) == _chars(list(DataTable.render_line(table, y)))
