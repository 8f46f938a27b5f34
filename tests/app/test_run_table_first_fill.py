"""The runs list's first fill (issue 12: first paint of 1,000 runs): a long list paints its first rows, the
rest are added right after that paint; the rows shown, their order and the cursor are those of a whole fill."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import DataTable

from tests.app.conftest import FROZEN_NOW, wait_until
from tests.app.run_rows import TableApp, run_row
from tui.widgets.line_table import LineTable
from tui.widgets.run_table import RunTable

N = 1000


@pytest.fixture
def rows_at_first_draw(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Seam (recording wrappers, not mocks): how many rows the table held when it drew its first row."""
    seen: list[int] = []
    render = DataTable._render_line_in_row
    body = LineTable._body_segments

    def recording(self, row_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not seen and row_key.value is not None:
            seen.append(self.row_count)
        return render(self, row_key, *args, **kwargs)

    def recording_body(self, row_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not seen:
            seen.append(self.row_count)
        return body(self, row_key, *args, **kwargs)

    monkeypatch.setattr(DataTable, "_render_line_in_row", recording)
    monkeypatch.setattr(LineTable, "_body_segments", recording_body)
    return seen


async def test_a_long_list_paints_its_first_rows_then_holds_them_all(rows_at_first_draw: list[int]) -> None:
    rows = [run_row(i, digits=4) for i in range(N)]
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, FROZEN_NOW)
        await wait_until(pilot, lambda: table.row_count == N, what="every row")
        assert rows_at_first_draw and rows_at_first_draw[0] < N  # the first paint did not wait for them all
        assert table.order == [s.path for s in rows]
        assert str(table.get_cell(rows[-1].path, "step")) == "10"
        table.action_scroll_end()
        table.move_cursor(row=N - 1)
        assert table.selected_path() == rows[-1].path


async def test_a_new_show_before_the_rest_is_added_shows_every_row() -> None:
    rows = [run_row(i, digits=4) for i in range(N)]
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, FROZEN_NOW)
        changed = [replace(s, step=11) if s.path == rows[-1].path else s for s in rows[::-1]]
        table.show(changed, FROZEN_NOW)  # a re-sort and a change, before the first fill is complete
        assert table.row_count == N and table.order == [s.path for s in changed]
        assert str(table.get_cell(rows[-1].path, "step")) == "11"
        await pilot.pause()
        assert table.row_count == N and table.order == [s.path for s in changed]
