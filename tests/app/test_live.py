"""The app follows a real run folder live (Pilot, real files, real watcher)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.screens.run_view import RunViewScreen
from tui.widgets.metric_chart import MetricChart
from tui.widgets.run_panes import LatestTable

HEAD = "env/all/reward/total"


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


async def _open_run_view(pilot, app: TinkertopApp) -> RunViewScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
    await pilot.press("enter")
    view = await wait_until(pilot, app._run_view, what="the run view")
    chart = view.query_one(MetricChart)
    await wait_until(pilot, lambda: HEAD in chart.series and chart.keys == [HEAD], what="the headline chart")
    return view


async def test_new_step_appears_without_resetting_view(tmp_path: Path) -> None:
    run = copy_run("rl_arith", tmp_path / "runs")
    metrics = run / "metrics.jsonl"
    last = json.loads(metrics.read_text().splitlines()[-1])
    app = TinkertopApp([tmp_path / "runs"])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open_run_view(pilot, app)
        chart = view.query_one(MetricChart)
        # pick a second metric through the search box, zoom in, scroll the latest table
        await pilot.press("slash", *"optim/entropy", "enter", "space")
        await wait_until(pilot, lambda: chart.keys == [HEAD, "optim/entropy"], what="second key picked")
        await wait_until(pilot, lambda: "optim/entropy" in chart.series, what="entropy series")
        await pilot.press("plus")
        await pilot.press("m")
        table = view.query_one(LatestTable)
        table.focus()
        await pilot.press(*["down"] * 50)
        await pilot.pause()
        cursor, scroll = table.cursor_row, table.scroll_y
        assert cursor == 50 and scroll > 0

        new = dict(last, step=6, **{HEAD: 0.987654, "optim/entropy": 0.123456})
        _append(metrics, json.dumps(new) + "\n")

        await wait_until(pilot, lambda: chart.series[HEAD].steps[-1:] == [6], what="step 6 in the chart")
        assert chart.series[HEAD].values[-1] == 0.987654
        assert chart.series["optim/entropy"].values[-1] == 0.123456
        await wait_until(pilot, lambda: table.get_cell(HEAD, "value") == "0.9877", what="latest value")
        text = screen_text(app)
        assert "step 6" in text and "0.9877" in text
        # view state survived the update
        assert chart.keys == [HEAD, "optim/entropy"]
        assert chart.view.zoom == 0.5
        assert (table.cursor_row, table.scroll_y) == (cursor, scroll)
        await pilot.press("c")
        assert "optim/entropy" in screen_text(app)


async def test_corrupt_line_is_counted_and_shown(tmp_path: Path) -> None:
    run = copy_run("rl_arith", tmp_path / "runs")
    metrics = run / "metrics.jsonl"
    n_lines = len(metrics.read_text().splitlines())
    last = json.loads(metrics.read_text().splitlines()[-1])
    app = TinkertopApp([tmp_path / "runs"])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open_run_view(pilot, app)
        _append(metrics, '{"step": 6, "env/all/reward/tot\n' + json.dumps(dict(last, step=7)) + "\n")
        await wait_until(pilot, lambda: view.detail and view.detail.summary.step == 7, what="step 7")
        assert view.detail is not None and view.detail.summary.bad_lines == 1
        assert "⚠ 1 bad lines" in screen_text(app)
        await pilot.press("b")
        text = screen_text(app)
        assert f"metrics.jsonl:{n_lines + 1}:" in text, text
        assert "Bad lines (1)" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.runs_screen, what="back to the list")
        # the list draws live changes at most every LIVE_EVERY_S: wait for that redraw
        await wait_until(pilot, lambda: "⚠1 bad" in screen_text(app), what="the flag on the list")
