"""Runs list behaviour: empty workspace, sort, filter, help, selection kept across live updates, the
order held while the cursor moves, names told apart."""

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
        app.runs_screen.hold_s = 0.05  # the order held after a move is released almost at once
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


def _copy_as(name: str, dest: Path, mtime: float) -> Path:
    """``shared/formats/<name>`` copied to ``dest`` (any folder name, nested), with a fixed mtime."""
    src = copy_run(name, dest.parent / f".src-{dest.parent.name}-{dest.name}", mtime=mtime)
    dest.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dest)
    src.parent.rmdir()
    return dest


def _names(table: RunTable) -> list[str]:
    return [Path(p).name for p in table._order]


async def test_order_holds_while_the_cursor_moves(tmp_path: Path) -> None:
    runs = {
        name: copy_run(name, tmp_path, mtime=FIXED_MTIME + 60 * i)
        for i, name in enumerate(("rl_arith", "dpo_local", "sl_conversations"))
    }
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 3, what="three runs")
        screen = app.runs_screen
        screen.hold_s = 3600.0  # the hold must outlast the test: released by `s` below
        table = screen.query_one(RunTable)
        assert _names(table) == ["sl_conversations", "dpo_local", "rl_arith"]
        await pilot.press("down")  # aiming at rl_arith, two rows down
        metrics = runs["rl_arith"] / "metrics.jsonl"
        row = json.loads(metrics.read_text().splitlines()[-1])
        with metrics.open("a") as fh:
            fh.write(json.dumps(dict(row, step=6)) + "\n")
        os.utime(metrics)  # rl_arith is now the newest: "updated" would put it on top
        path = str(runs["rl_arith"])
        await wait_until(pilot, lambda: str(table.get_cell(path, "step")) == "6", what="step 6 in place")
        assert _names(table) == ["sl_conversations", "dpo_local", "rl_arith"]
        assert "order held" in screen_text(app)
        # a new run arrives while the order holds: at the end
        copy_run("distill_onpolicy", tmp_path)
        await wait_until(pilot, lambda: len(table._order) == 4, what="the new run")
        assert _names(table) == ["sl_conversations", "dpo_local", "rl_arith", "distill_onpolicy"]
        await pilot.press("down", "enter")
        view = await wait_until(pilot, app._run_view, what="the run view")
        assert view.path == path
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, what="back to the list")
        await pilot.press("s")  # a new sort releases the hold at once
        assert _names(table) == ["distill_onpolicy", "dpo_local", "rl_arith", "sl_conversations"]
        assert "order held" not in screen_text(app)


async def test_filter_matches_path_kind_status_and_config(tmp_path: Path) -> None:
    a = _copy_as("rl_arith", tmp_path / "sweepA" / "seed1", FIXED_MTIME)
    b = _copy_as("rl_arith_kl", tmp_path / "sweepB" / "seed1", FIXED_MTIME + 60)
    dpo = _copy_as("dpo_local", tmp_path / "dpo_local", FIXED_MTIME + 120)
    long = _copy_as("sl_conversations", tmp_path / "a_very_long_run_name_lr_1e-4_seed_7", FIXED_MTIME + 180)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 4, what="four runs")
        table = app.runs_screen.query_one(RunTable)

        async def shown(query: str) -> set[str]:
            await pilot.press("slash", *query)
            paths = set(table._order)
            await pilot.press("escape")
            return paths

        assert await shown("sweepA") == {str(a)}  # a parent folder's name
        assert await shown("seed1") == {str(a), str(b)}
        assert await shown("kl_penalty_coef=5e-2") == {str(b)}  # a number written another way
        assert await shown("learning_rate=0.00004") == {str(a), str(b)}
        assert await shown("dataset_builder.batch_size=4 sweepB") == {str(b)}  # full dotted name
        assert await shown("learning_rate=4e-5 kind=dpo") == set()
        assert await shown("kind=dpo") == {str(dpo)}  # kind= and status= also name the columns
        status = app.summaries[str(dpo)].status
        assert await shown(f"dpo {status} recipe_dpo") == {str(dpo)}  # kind, status, config value
        assert await shown("sl " + app.summaries[str(long)].status) >= {str(long)}
        text = screen_text(app)
        assert "sweepA/seed1" in text and "sweepB/seed1" in text  # same folder name: the parent shown
        assert "a_very_lon…-4_seed_7" in text  # cut in the middle: both ends tell runs apart


def test_filter_and_name_helpers() -> None:
    from runner.runs.summary import RunSummary
    from tui.format import display_names, flatten_config, middle_cut, run_matches, word_cut

    assert middle_cut("abcdefghijklmnopqrstuvwxyz", 9) == "abcd…wxyz"
    assert middle_cut("short", 9) == "short"
    assert word_cut("no signal (hard)", 11) == "no signal"  # the Flags column: whole words
    assert word_cut("NaN entropy ⚠config.json", 11) == "NaN entropy"
    assert word_cut("exit 1", 11) == "exit 1"
    assert word_cut("⚠metrics.jsonl", 11) == "⚠metrics.j…"
    assert word_cut("NaN nan_metric", 11) == "NaN nan_me…"  # a word end that keeps too little: cut inside
    assert display_names(["/r/a/s1", "/r/b/s1", "/r/c", "/x/a/s1"]) == {
        "/r/a/s1": "r/a/s1",
        "/r/b/s1": "b/s1",
        "/r/c": "c",
        "/x/a/s1": "x/a/s1",
    }
    config = flatten_config({"optim": {"lr": 1e-4, "betas": [0.9, 0.95]}, "name": "Run", "on": True})
    assert config == {
        "optim.lr": "0.0001",
        "optim.betas.0": "0.9",
        "optim.betas.1": "0.95",
        "name": "Run",
        "on": "true",
    }
    run = RunSummary("/w/sweep/s1", "s1", "rl", "running", 1, None, None, None, [], None, 1, 0, {})
    for query, hit in [
        ("lr=1e-4", True),
        ("optim.lr=0.0001", True),
        ("lr=1e-3", False),
        ("timal.lr=1e-4", False),
        ("optim.betas.1=0.95 sweep", True),
        ("betas.1=0.95", False),
        ("name=run on=TRUE", True),
        ("RUNNING rl", True),
        ("stale", False),
        ("", True),
    ]:
        assert run_matches(run, config, query) is hit, query


async def test_the_footer_says_how_to_open_a_run_and_enter_opens_it(tmp_path: Path) -> None:
    """The list's main action is in the footer (the table's own hidden enter used to take the key from the
    screen's Open, so the footer showed none), and Enter opens the run under the cursor."""
    from tui.screens.run_view import RunViewScreen

    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        await pilot.pause()
        enter = app.screen.active_bindings["enter"].binding
        assert (enter.description, enter.show) == ("Open", True)
        footer = screen_text(app).splitlines()[-1]
        assert "Open" in footer and footer.index("Open") < footer.index("Sort"), footer
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunViewScreen), what="the run view")
