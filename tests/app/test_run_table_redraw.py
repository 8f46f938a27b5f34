"""The runs list redraws only what changed (issue 12: many runs appending): a row whose cells changed is
drawn again alone, a new order moves the rows without rebuilding them, and live updates are drawn in
batches, in the order shown."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import DataTable

from runner.status import Status
from tests.app.conftest import FROZEN_NOW, copy_run, wait_until
from tests.app.run_rows import TableApp, run_row, table_shown
from tui.app import TinkertopApp
from tui.screens.runs import RunsScreen
from tui.widgets.line_table import LineTable
from tui.widgets.run_table import RunTable


@pytest.fixture
def drawn_rows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Seam (counting wrappers, not mocks): the row keys drawn anew, by the table's own body-row drawing
    or by the DataTable's."""
    keys: list[str] = []
    render = DataTable._render_line_in_row
    body = LineTable._body_segments

    def counting(self, row_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        keys.append(row_key.value)
        return render(self, row_key, *args, **kwargs)

    def counting_body(self, row_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        keys.append(row_key.value)
        return body(self, row_key, *args, **kwargs)

    monkeypatch.setattr(DataTable, "_render_line_in_row", counting)
    monkeypatch.setattr(LineTable, "_body_segments", counting_body)
    return keys


async def test_a_changed_row_is_drawn_again_alone(drawn_rows: list[str]) -> None:
    rows = [run_row(i) for i in range(60)]
    async with table_shown(rows, FROZEN_NOW) as (pilot, table):
        assert "/runs/run_000" in drawn_rows and "/runs/run_050" not in drawn_rows  # only what is visible
        drawn_rows.clear()
        rows[2] = replace(rows[2], step=11)  # on screen
        rows[50] = replace(rows[50], step=11)  # off screen
        table.show(rows, FROZEN_NOW)
        await pilot.pause()
        assert set(drawn_rows) == {"/runs/run_002"}
        assert str(table.get_cell("/runs/run_050", "step")) == "11"


async def test_a_new_order_moves_the_rows_without_rebuilding_them(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [run_row(i) for i in range(30)]
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, FROZEN_NOW)
        table.move_cursor(row=3)
        await pilot.pause()
        added: list[object] = []
        monkeypatch.setattr(table, "add_row", lambda *a, **k: added.append(a))  # seam: counts rebuilds
        table.show(rows[::-1], FROZEN_NOW)
        await pilot.pause()
        assert added == [] and table.order == [s.path for s in rows[::-1]]
        assert table.get_row_index("/runs/run_000") == 29 and table.selected_path() == "/runs/run_003"
        assert str(table.get_row_at(0)[0]) == "run_029"


def _count_draws(screen: RunsScreen) -> list[bool]:
    """Seam: the list's draws, each one's ``resort`` recorded (the draw itself still happens)."""
    draws: list[bool] = []
    render = screen.render_runs
    counting = lambda resort=True: (draws.append(resort), render(resort))  # noqa: E731
    screen.render_runs = counting  # type: ignore[method-assign]
    return draws


async def test_live_updates_are_drawn_in_batches_in_the_order_shown(tmp_path: Path) -> None:
    runs = [copy_run(name, tmp_path) for name in ("rl_arith", "dpo_local")]
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 2, what="two runs")
        screen = app.runs_screen
        screen.live_every_s = 3600.0  # the next live batch waits: only the first is drawn
        table = screen.query_one(RunTable)
        order = table.order
        draws = _count_draws(screen)
        # the run shown last writes last: "updated" would put it first
        newest = [replace(app.summaries[p], last_change=FROZEN_NOW + i) for i, p in enumerate(order)]
        for step in (7, 8, 9):
            screen.update_runs([replace(s, step=step) for s in newest], live=True)
        await wait_until(pilot, lambda: draws, what="a live draw")
        await pilot.pause()
        assert draws == [False]  # one draw for the three, without re-sorting
        assert table.order == order and str(table.get_cell(str(runs[0]), "step")) == "9"
        screen.update_runs([replace(s, step=10) for s in newest], live=True)
        await pilot.pause()
        assert draws == [False] and str(table.get_cell(str(runs[0]), "step")) == "9"  # waits its turn
        screen.render_runs()  # the age timer's draw sorts again
        assert table.order == order[::-1] and str(table.get_cell(str(runs[0]), "step")) == "10"
        # a status that changes (a stop, a finish) is drawn at once
        screen.update_runs([replace(s, step=11, status=Status.STOPPED) for s in newest], live=True)
        assert draws[-1] is True and str(table.get_cell(str(runs[0]), "status")) == "stopped"


async def test_the_age_tick_leaves_its_resort_to_the_live_update_that_waits(tmp_path: Path) -> None:
    """With runs appending a live update is nearly always waiting: the ages' tick (every AGE_REFRESH_S) then
    draws nothing itself and the live update sorts again, one redraw instead of two; with none waiting it
    draws at once."""
    runs = [copy_run(name, tmp_path) for name in ("rl_arith", "dpo_local")]
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 2, what="two runs")
        screen = app.runs_screen
        table = screen.query_one(RunTable)
        order = table.order
        draws = _count_draws(screen)
        screen._refresh_ages()
        assert draws == [True]  # nothing waiting: drawn (and sorted) at once
        screen.live_every_s = 3600.0  # the next live update waits
        screen._live_at = time.monotonic()
        newest = [replace(app.summaries[p], last_change=FROZEN_NOW + i) for i, p in enumerate(order)]
        screen.update_runs([replace(s, step=12) for s in newest], live=True)
        screen._refresh_ages()
        await pilot.pause()
        assert draws == [True] and table.order == order  # the tick left it to the update that waits
        screen._draw_live()  # its turn
        assert draws == [True, True] and table.order == order[::-1]
        assert str(table.get_cell(str(runs[0]), "step")) == "12"
