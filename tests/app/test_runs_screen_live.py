"""The runs screen's work per live update (issue 12: 100 runs appending, each second): the same runs keep
the order shown without filtering and sorting every run again, and a title that did not change is not set
(and laid out) again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.app.conftest import FROZEN_NOW, copy_run, wait_until
from tui.app import TinkertopApp
from tui.widgets.run_table import RunTable

RUNS = ("rl_arith", "dpo_local", "sl_conversations")


async def test_a_live_update_keeps_the_order_without_sorting_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [str(copy_run(name, tmp_path)) for name in RUNS]
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == len(RUNS), what="the runs")
        screen = app.runs_screen
        table = screen.query_one(RunTable)
        await wait_until(pilot, lambda: len(table.order) == len(RUNS), what="the rows")
        order = table.order
        sorted_: list[bool] = []
        shown_runs = screen.shown_runs
        monkeypatch.setattr(screen, "shown_runs", lambda: (sorted_.append(True), shown_runs())[1])  # seam
        newest = [replace(app.summaries[p], step=50, last_change=FROZEN_NOW + i) for i, p in enumerate(order)]
        screen.update_runs(newest[::-1], live=True)
        screen.render_runs(resort=False)
        assert sorted_ == [] and table.order == order  # the order shown, the new values
        assert str(table.get_cell(order[0], "step")) == "50"
        screen.render_runs()  # the age timer's draw sorts again: the run that wrote last first
        assert sorted_ == [True] and table.order == order[::-1]
        screen.filter_text = Path(runs[0]).name  # a filter: its runs are chosen again
        screen.render_runs(resort=False)
        assert len(sorted_) == 2 and table.order == [runs[0]]


async def test_a_title_that_did_not_change_is_not_set_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_run(RUNS[0], tmp_path)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the run")
        screen = app.runs_screen
        title = screen.query_one("#runs-title", Static)
        screen.render_runs()
        set_to: list[str] = []
        update = title.update
        monkeypatch.setattr(title, "update", lambda text: (set_to.append(str(text)), update(text)))  # seam
        screen.render_runs(resort=False)
        screen.render_runs()
        assert set_to == []
        screen.set_sort("name")
        assert len(set_to) == 1 and "sort: name" in set_to[0]
