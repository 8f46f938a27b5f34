"""Runs list behaviour: empty workspace, sort, filter, help, selection kept across live updates."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.app.conftest import FIXED_MTIME, FROZEN_NOW, copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.screens.help import HelpScreen
from tui.widgets.run_table import RunTable


async def test_empty_workspace_explains_what_to_do(tmp_path: Path) -> None:
    root = tmp_path / "results" / "logs"
    app = TinkertopApp([root])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        text = screen_text(app)
        assert "No runs yet." in text and "tinkertop demo" in text and str(root) in text
        # a run appearing later shows up without a restart (the root did not even exist)
        copy_run("rl_arith", root)
        await wait_until(pilot, lambda: "rl_arith" in screen_text(app), what="the new run", timeout=20)
        assert "No runs yet." not in screen_text(app)


async def test_sort_filter_and_help(tmp_path: Path) -> None:
    for i, name in enumerate(("rl_arith", "dpo_local", "sl_conversations")):
        copy_run(name, tmp_path, mtime=FIXED_MTIME + 60 * i)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 3, what="three runs")
        table = app.runs_screen.query_one(RunTable)
        names = lambda: [Path(p).name for p in table._order]  # noqa: E731
        assert names() == ["sl_conversations", "dpo_local", "rl_arith"]  # newest first
        await pilot.press("s")  # sort: name
        assert names() == ["dpo_local", "rl_arith", "sl_conversations"]
        assert "sort: name" in screen_text(app)
        await pilot.press("slash", *"arith")
        assert names() == ["rl_arith"] and "1 of 3 runs" in screen_text(app)
        await pilot.press("escape")
        assert len(names()) == 3
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.pause()
        text = screen_text(app)
        for line in ("Sort", "Filter", "Open", "runs.sort", "app.quit", "Quit (runs go on)"):
            assert line in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.runs_screen, what="help closed")


async def test_selection_follows_the_run_when_order_changes(tmp_path: Path) -> None:
    runs = [
        copy_run(name, tmp_path, mtime=FIXED_MTIME + 60 * i)
        for i, name in enumerate(("rl_arith", "dpo_local"))
    ]
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 2, what="two runs")
        table = app.runs_screen.query_one(RunTable)
        await pilot.press("j")  # second row: rl_arith (older)
        assert Path(table.selected_path() or "").name == "rl_arith"
        metrics = runs[0] / "metrics.jsonl"
        row = json.loads(metrics.read_text().splitlines()[-1])
        with metrics.open("a") as fh:
            fh.write(json.dumps(dict(row, step=6)) + "\n")
        os.utime(metrics)  # now: rl_arith becomes the newest and moves to the top
        await wait_until(pilot, lambda: [Path(p).name for p in table._order][0] == "rl_arith", what="re-sort")
        assert Path(table.selected_path() or "").name == "rl_arith" and table.cursor_row == 0
        assert app.summaries[str(runs[0])].step == 6


async def test_palette_opens_a_run_and_worker_stops_on_exit(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    copy_run("dpo_local", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 2, what="two runs")
        follow = [w for w in app.workers if w.group == "follow-runs"]
        assert len(follow) == 1
        await pilot.press("ctrl+p", *"open dpo")
        await wait_until(pilot, lambda: "open dpo_local" in screen_text(app), what="palette hit")
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="run view")
        assert Path(view.path).name == "dpo_local"
        await wait_until(pilot, lambda: "dpo_local · dpo" in screen_text(app), what="title")
    # quitting stops the watcher thread itself (not only the Worker object)
    assert app.follow_stopped.wait(5), "the follow-runs thread did not stop"
    assert follow[0].is_finished
