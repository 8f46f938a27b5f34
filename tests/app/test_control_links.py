"""The run view links the run's W&B run: a logged URL, or the offline run folder (real format copies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.widgets.run_info import RunInfoBar

URL = "https://wandb.ai/some-team/arith/runs/abc123xy"


async def _run_view_text(root: Path) -> str:
    app = TinkertopApp([root])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="the run view")
        bar = view.query_one(RunInfoBar)
        await wait_until(pilot, lambda: bar.info is not None, 10, "run info")
        await pilot.pause(0.2)
        return screen_text(app)


async def test_offline_wandb_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    copy_run("rl_arith_wandb_offline", tmp_path / "runs")
    text = await _run_view_text(tmp_path / "runs")
    assert "W&B offline run pemlbwjx" in text and "wandb sync" in text


async def test_logged_wandb_url_is_linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    run = copy_run("rl_arith", tmp_path / "runs")
    with (run / "logs.log").open("a") as fh:
        fh.write(f"tinker_cookbook.utils.ml_log:342 [INFO] Logging to: {URL}\n")
    text = await _run_view_text(tmp_path / "runs")
    assert f"W&B: {URL}" in text
