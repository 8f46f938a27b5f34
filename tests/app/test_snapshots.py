"""Snapshots (pytest-textual-snapshot) of the runs list and a run view: 120x40, frozen clock,
real run folders from ../shared/formats copied with fixed mtimes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import FIXED_MTIME, FROZEN_NOW, copy_run, wait_until
from tui.app import TinkertopApp
from tui.widgets.metric_chart import MetricChart

SIZE = (120, 40)
# oldest first; rl_arith is the newest, so it is the top row under the default sort (updated)
RUNS = ("ml_log_direct", "distill_onpolicy", "dpo_local", "sl_conversations", "rl_arith_async", "rl_arith")


@pytest.fixture
def app(tmp_path: Path) -> TinkertopApp:
    root = tmp_path / "logs"
    for i, name in enumerate(RUNS):
        copy_run(name, root, mtime=FIXED_MTIME + 97 * i)
    return TinkertopApp([root], now=lambda: FROZEN_NOW)


async def _loaded(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.loaded and len(app.summaries) == len(RUNS), what="full read")
    await pilot.pause()


async def _run_view(pilot) -> None:  # type: ignore[no-untyped-def]
    await _loaded(pilot)
    await pilot.press("enter")
    view = await wait_until(pilot, pilot.app._run_view, what="run view")
    chart = view.query_one(MetricChart)
    await wait_until(pilot, lambda: chart.keys and all(k in chart.series for k in chart.keys), what="chart")
    await pilot.pause()


def test_runs_list(app: TinkertopApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=SIZE, run_before=_loaded)


def test_run_view(app: TinkertopApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=SIZE, run_before=_run_view)


def test_run_view_latest_tab(app: TinkertopApp, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _run_view(pilot)
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
