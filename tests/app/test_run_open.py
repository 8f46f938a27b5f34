"""Opening a run: what the user waits for between Enter and the chart (issue 12).

The run view's tabs show with the first snapshot (one full frame, with the chart; a run with nothing to
show gets its tabs after ``REVEAL_AFTER_S``), the cyclic GC rests from Enter until that frame is out, and
the chart draws its first data coarse, then in full detail right after.

Real run folders (``shared/formats/rl_arith``, grown to 150 steps where the chart needs many points). One
seam, named as such: the follower's ``snapshot`` waits for the test's go in the load worker (standing in
for a run whose read takes a while) so the test can look at the view before its data comes.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui import follow as follow_module
from tui.app import TinkertopApp
from tui.screens import run_view as run_view_module
from tui.widgets.metric_chart import COARSE_POINTS, MIN_POINTS

HEAD = "env/all/reward/total"
WAIT = 30.0  # a failure guard only


def _grow(run: Path, steps: int) -> None:
    """Append copies of the run's last row up to ``steps`` steps."""
    metrics = run / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    last = rows[-1]
    with metrics.open("a", encoding="utf-8") as fh:
        for step in range(last["step"] + 1, steps):
            fh.write(json.dumps(dict(last, step=step, **{HEAD: (step % 7) / 7})) + "\n")


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """SEAM: a run view's snapshot (the load worker's, not the follow worker's) waits until set."""
    go = threading.Event()
    real = follow_module.Follower.snapshot

    def gated(self: follow_module.Follower, focus: follow_module.Focus | None = None):  # type: ignore[no-untyped-def]
        if focus is not None:  # the load worker asks with a focus; the follow worker without
            go.wait(WAIT)
        return real(self, focus)

    monkeypatch.setattr(follow_module.Follower, "snapshot", gated)
    yield go
    go.set()


@pytest.fixture
def gc_restored() -> Iterator[None]:
    yield
    gc.enable()  # whatever a failing test left


async def test_tabs_show_with_the_first_snapshot_and_gc_rests_until_the_chart_is_out(
    tmp_path: Path, gate: threading.Event, gc_restored: None
) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        assert gc.isenabled()
        await pilot.press("enter")
        view = await wait_until(pilot, lambda: (v := app._run_view()) and v.is_mounted and v, what="the view")
        tabs = view.query_one(TabbedContent)
        assert not tabs.display  # no empty frame of tabs while the run's data is on its way
        assert "waiting for its files" in screen_text(app)
        assert not gc.isenabled()  # from Enter on
        gate.set()
        chart = view.chart
        await wait_until(pilot, lambda: HEAD in chart.series and tabs.display, what="the chart and its tabs")
        await wait_until(pilot, gc.isenabled, what="the GC back once the chart's frame is out")


async def test_tabs_show_anyway_when_no_snapshot_comes(
    tmp_path: Path, gate: threading.Event, gc_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_view_module, "REVEAL_AFTER_S", 0.05)
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        await pilot.press("enter")
        view = await wait_until(pilot, lambda: (v := app._run_view()) and v.is_mounted and v, what="the view")
        tabs = view.query_one(TabbedContent)
        await wait_until(pilot, lambda: tabs.display, what="the tabs without data")
        assert not view.chart.series
        gate.set()
        await wait_until(pilot, lambda: HEAD in view.chart.series, what="the chart")


async def test_first_data_is_drawn_coarse_then_in_full_detail(tmp_path: Path) -> None:
    run = copy_run("rl_arith", tmp_path)
    _grow(run, 3 * MIN_POINTS)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        view = None
        drawn: list[int] = []
        real_replot = run_view_module.MetricChart.replot

        def counted(chart: run_view_module.MetricChart) -> None:  # every draw's number of points
            real_replot(chart)
            if HEAD in chart.keys and HEAD in chart.series:
                drawn.append(len(chart.points(HEAD)[0]))

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(run_view_module.MetricChart, "replot", counted)
            await pilot.press("enter")
            view = await wait_until(pilot, app._run_view, what="the view")
            await wait_until(pilot, lambda: len(drawn) >= 2, what="the coarse draw, then the full one")
        assert drawn[0] <= COARSE_POINTS < drawn[1]
        assert drawn[1] == len(view.chart.points(HEAD)[0]) >= MIN_POINTS  # full detail from then on


async def test_quitting_right_after_opening_a_run_leaves_the_gc_on(
    tmp_path: Path, gate: threading.Event, gc_restored: None
) -> None:
    """The GC paused by Enter comes back when the app ends before the chart shows (its timer ends with the
    app): a process embedding the app, or a test session, never goes on without its cyclic GC."""
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not gc.isenabled(), what="the GC paused by Enter")
    gate.set()
    assert gc.isenabled()
