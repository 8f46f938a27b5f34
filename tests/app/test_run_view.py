"""Run view: chart controls, non-finite and string values, config, console, checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.app.conftest import FORMATS, copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.widgets.metric_chart import MetricChart
from tui.widgets.run_panes import LatestTable


async def _open(pilot, app: TinkertopApp):  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
    await pilot.press("enter")
    view = await wait_until(pilot, app._run_view, what="the run view")
    chart = view.query_one(MetricChart)
    await wait_until(pilot, lambda: chart.keys and all(k in chart.series for k in chart.keys), what="chart")
    return view, chart


async def test_chart_controls(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view, chart = await _open(pilot, app)
        xs, raw, smooth = chart.points("env/all/reward/total")
        assert xs == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and smooth[0] == raw[0] and smooth[1] != raw[1]
        await pilot.press("S", "S", "S", "S", "S")  # 0.6 -> 0.8 -> 0.9 -> 0.95 -> 0.99 -> off
        assert chart.view.ema == 0.0 and chart.points("env/all/reward/total")[2] == raw
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
        assert chart.view.ema == 0.03 and "EMA 0.03" in screen_text(app)
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")
        assert chart.view.ema == 0.0
        await pilot.press("W")
        assert chart.view.window == 5
        await pilot.press("X")
        assert chart.view.x_time and "x: time first seen" in screen_text(app)
        xt = chart.points("env/all/reward/total")[0]
        assert xt[0] == 0.0 and xt == sorted(xt)
        await pilot.press("X", "Y", "plus", "plus")
        assert chart.view.log_y and chart.view.zoom == 0.25
        assert "log-y on" in screen_text(app) and "zoom last 25%" in screen_text(app)
        assert chart.points("env/all/reward/total")[0] == [4.0, 5.0]
        await pilot.press("0")
        assert chart.view.zoom == 1.0


async def test_values_config_console_checkpoints(tmp_path: Path) -> None:
    copy_run("ml_log_direct", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view, _chart = await _open(pilot, app)
        await pilot.press("m")
        table = view.query_one(LatestTable)
        cells = {
            key: table.get_cell(key, "value")
            for key in ("nan_metric", "inf_metric", "neg_inf", "a_str", "a_none", "a_bool")
        }
        assert cells == {
            "nan_metric": "NaN",
            "inf_metric": "inf",
            "neg_inf": "-inf",
            "a_str": "tinker://x/weights/000001",
            "a_none": "null",
            "a_bool": "true",
        }
        assert "tinker://x/weights/000001" in screen_text(app)
        await pilot.press("o")
        assert '"name": "demo"' in screen_text(app)
        await pilot.press("l")
        await wait_until(pilot, lambda: "no logs.log" not in screen_text(app), what="console")


async def test_checkpoints_tab(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(pilot, app)
        await pilot.press("p")
        text = screen_text(app)
        assert "final" in text and "000003" in text
        await pilot.press("l")
        await wait_until(pilot, lambda: "Training completed successfully" in screen_text(app), what="log end")


async def test_run_without_metrics(tmp_path: Path) -> None:
    src = FORMATS.parent / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR" / "logs_v2p5"
    if not src.is_dir():
        pytest.skip(f"{src} is absent")
    shutil.copytree(src, tmp_path / "logs_v2p5")  # config.json and logs.log, no metrics.jsonl
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        assert "no metrics" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "no metrics in this run yet" in screen_text(app), what="empty chart")
        await pilot.press("l")
        await wait_until(pilot, lambda: "INFO" in screen_text(app), what="console log")


async def test_latest_tab_shows_the_step_of_older_values(tmp_path: Path) -> None:
    run = copy_run("rl_arith", tmp_path)  # test/* keys are logged every 2 steps: last at 4 of 0..5
    metrics = run / "metrics.jsonl"
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view, _chart = await _open(pilot, app)
        await pilot.press("m")
        table = view.query_one(LatestTable)
        test_key, train_key = "test/env/all/ac_tokens_per_turn", "env/all/reward/total"
        await wait_until(pilot, lambda: table.get_cell(test_key, "step") == "4 (last 5)", what="older step")
        assert table.get_cell(train_key, "step") == ""  # from the last step: no mark
        assert "4 (last 5)" in screen_text(app)
        # step 6 logs the reward only: every other value is now from an older step
        with metrics.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": 6, train_key: 0.5}) + "\n")
        await wait_until(pilot, lambda: table.get_cell(test_key, "step") == "4 (last 6)", what="step 6")
        assert table.get_cell(train_key, "step") == "" and table.get_cell(train_key, "value") == "0.5"
        assert table.get_cell("optim/entropy", "step") == "5 (last 6)"
