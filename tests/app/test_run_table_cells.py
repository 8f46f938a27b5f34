"""The runs list draws its body cells straight from their Text (issue 12: rich's ``render_lines`` per cell was
half the main thread's drawing with 100 runs appending); every cell must look exactly as the DataTable's own
drawing of it: the same characters with the same styles (colours, cursor, hover, the meta a click reads)."""

from __future__ import annotations

from dataclasses import replace

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

from runner.status import Status
from tests.app.run_rows import TableApp, run_row
from tui.widgets.run_table import COLUMNS, RunTable

FROZEN = 1_780_003_600.0


def _rows() -> list:
    base = run_row(1)
    return [
        base,
        replace(run_row(2), path="/runs/marked", name="marked"),  # marked below: the accent mark before it
        replace(run_row(3), alert_flag="NaN loss", alert_severity="critical"),  # a red row
        replace(run_row(4), alert_flag="KL 0.08", alert_severity="warning", bad_lines=2),  # an amber row
        replace(run_row(5), name="a_very_long_run_name_that_the_column_cuts_in_the_middle"),
        replace(run_row(6), name="x", kind="", step=None, headline_key=None, headline_value=None, spark=[]),
        replace(
            run_row(7), name="训练运行_中文名字_很长很长很长很长"
        ),  # wide characters, cropped mid-character
        replace(run_row(8), name="🚀 sweep[lr=1e-4] ünï", status=Status.FAILED, exit_code=137),
        replace(run_row(9), kind="foreign", n_lines=0, step=None, last_change=None, progress=None),
    ]


def _chars(line: list[Segment]) -> list[tuple[str, Style | None]]:
    return [(ch, seg.style) for seg in line for ch in seg.text]


async def test_every_body_cell_is_drawn_as_the_datatable_draws_it() -> None:
    rows = _rows()
    app = TableApp()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, FROZEN, labels={"/runs/run_005": "a/" + rows[4].name}, marked={"/runs/marked"})
        await pilot.pause()
        base = table.rich_style
        compared = 0
        for hover_shown in (False, True):
            table._show_hover_cursor = hover_shown
            for index in range(len(rows)):
                for column, (_, _, width) in enumerate(COLUMNS):
                    for cursor in (False, True):
                        for hover in (False, True):
                            fast = table._render_cell(index, column, base, width + 2, cursor, hover)
                            rich = DataTable._render_cell(
                                table, index, column, base, width + 2, cursor, hover
                            )
                            assert _chars(fast[0]) == _chars(rich[0]), (index, column, cursor, hover)
                            assert len(fast) == len(rich) == 1
                            compared += 1
        assert compared == 2 * len(rows) * len(COLUMNS) * 4


async def test_other_cells_look_the_same_too() -> None:
    """Markup (spans), a second line, an ellipsis, a tab: drawn alike, by this path or the DataTable's."""
    app = TableApp()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show([run_row(1)], FROZEN)
        await pilot.pause()
        row = table._data[table._row_locations.get_key(0)]
        base = table.rich_style
        cells: list[object] = [
            "two\nlines [b]bold[/b] [red]red[/red]",
            Text("a long text that ends in an ellipsis", overflow="ellipsis"),
            Text("tab\there", style="bold"),
            Text.assemble(("over", "italic"), ("lap", Style(color="red")), style="underline"),
        ]
        for cell in cells:
            row[next(iter(row))] = cell  # type: ignore[assignment]
            table._update_count += 1  # the DataTable's caches of this row
            fast = table._render_cell(0, 0, base, 22)
            rich = DataTable._render_cell(table, 0, 0, base, 22)
            assert _chars(fast[0]) == _chars(rich[0]), cell
