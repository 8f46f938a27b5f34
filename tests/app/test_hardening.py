"""The run view survives a burst of typed keys in the metric search while the run grows (Pilot, real
files, real watcher).

``pilot.press`` waits for the app to be idle after every key, so it cannot reproduce a paste or a fast
typist: the test hands a burst of key events to the driver at once (the seam a real terminal uses), the
way the bytes of a paste arrive, while lines are appended to the run's metrics.jsonl.
"""

from __future__ import annotations

import json
from pathlib import Path

from textual import events
from textual.widgets import Input, SelectionList, TabbedContent

from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.widgets.metric_chart import MetricChart

HEAD = "env/all/reward/total"
WORDS = "optim entropy kl sample"
ROUNDS = 12


def _burst(app: TinkertopApp, keys: list[tuple[str, str | None]]) -> None:
    """Queue every key event at once, as a terminal delivers a paste (no waiting in between)."""
    driver = app._driver
    assert driver is not None
    for key, char in keys:
        driver.send_message(events.Key(key, char))


def _typed(text: str) -> list[tuple[str, str | None]]:
    return [("space", " ") if ch == " " else (ch, ch) for ch in text]


async def test_burst_typing_in_metric_search_while_the_run_grows(tmp_path: Path) -> None:
    run = copy_run("rl_arith", tmp_path / "runs")
    metrics = run / "metrics.jsonl"
    last = json.loads(metrics.read_text().splitlines()[-1])
    app = TinkertopApp([tmp_path / "runs"])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="the run view")
        chart = view.query_one(MetricChart)
        await wait_until(pilot, lambda: chart.keys == [HEAD] and HEAD in chart.series, what="the chart")
        await pilot.press("slash")
        search = view.query_one("#metric-search", Input)
        listing = view.query_one("#metric-list", SelectionList)
        for i in range(ROUNDS):
            step = 6 + i
            with metrics.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(dict(last, step=step)) + "\n")
            _burst(app, _typed(WORDS))
            await wait_until(
                pilot, lambda: search.value == WORDS or not app.is_running, what="the typed words"
            )
            assert app.is_running and app._exception is None, repr(app._exception)
            _burst(app, [("backspace", None)] * len(WORDS))
            await wait_until(pilot, lambda: search.value == "" or not app.is_running, what="the cleared box")
            assert app.is_running and app._exception is None, repr(app._exception)
            # the live refresh of this step reached the chart while the list was being rebuilt
            await wait_until(pilot, lambda s=step: chart.series[HEAD].steps[-1] == s, what=f"step {step}")
        _burst(app, _typed("entropy"))
        await wait_until(pilot, lambda: search.value == "entropy", what="the search")
        await wait_until(pilot, lambda: listing.option_count == 1, what="one matching key")
        assert "optim/entropy" in screen_text(app)


async def test_keys_typed_right_after_slash_go_to_the_search_box(tmp_path: Path) -> None:
    """``/entropy`` typed at once from another tab: the letters are a search, not ``e`` (clone) and
    ``n`` (new run) of the run view."""
    copy_run("rl_arith", tmp_path / "runs")
    app = TinkertopApp([tmp_path / "runs"])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="the run view")
        await wait_until(pilot, lambda: view.detail is not None, what="the run")
        await pilot.press("m")  # the Latest tab: the search box is hidden
        search = view.query_one("#metric-search", Input)
        _burst(app, [("slash", "/"), *_typed("entropy")])
        await wait_until(pilot, lambda: search.value == "entropy", what="the typed search")
        assert app.screen is view and view.query_one(TabbedContent).active == "charts"
