"""Enter right after the first paint (issue 12): the start-up's later steps make way for the opened run.
The quick-scan child's other runs are asked for only once the run view's modules are in (opening a run
needs them first), and never while a run opens: they wait until its chart is out."""

from __future__ import annotations

import threading
from pathlib import Path

from runner.runs.quick import quick_scan_parts
from runner.runs.summary import RunSummary
from tests.app.conftest import FROZEN_NOW, wait_until
from tests.app.test_first_paint import N, make_runs
from tui.app import TinkertopApp
from tui.prefetch import FIRST_FILL


async def test_the_others_are_asked_for_once_the_run_view_can_open(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=FIRST_FILL)
    asked: list[tuple[bool, bool]] = []

    def take_rest() -> list[RunSummary]:
        asked.append((app.first_paint.is_set(), app.view_ready.is_set()))
        return rest

    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=first, rest=take_rest, found=found)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.summaries) == N, what="the others")
        assert asked == [(True, True)]


async def test_start_up_steps_wait_while_a_run_opens_until_its_chart_is_out(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=FIRST_FILL)
    arrived = threading.Event()
    app = TinkertopApp(
        [tmp_path],
        now=lambda: FROZEN_NOW,
        initial=first,
        rest=lambda: (arrived.wait(30), rest)[1],
        found=found,
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, app.first_paint.is_set, what="the first paint")
        charted: list[str] = []
        shown = app.run_shown
        app.run_shown = lambda: (charted.append("charted"), shown())[1]  # type: ignore[method-assign]
        app.open_run(first[0].path)  # Enter
        waited = threading.Thread(target=lambda: (app.wait_open(), charted.append("went on")))
        waited.start()  # a start-up step that asks now (the others' unpickling, say)
        await wait_until(pilot, lambda: "went on" in charted, what="the step held")
        assert charted[0] == "charted"
        arrived.set()
        await wait_until(pilot, lambda: len(app.summaries) == N, what="the others")


async def test_the_first_row_is_read_ahead_and_enter_on_it_shows_that_snapshot(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=FIRST_FILL)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=first, rest=lambda: rest, found=found)
    async with app.run_test(size=(120, 30)) as pilot:
        follower = app.follower
        await wait_until(pilot, lambda: follower.snapshots_built, what="the read ahead")
        assert follower.focus is None  # built before any run was opened
        top = app.runs_screen.shown_runs()[0].path
        charted: list[bool] = []
        shown = app.run_shown
        app.run_shown = lambda: (charted.append(True), shown())[1]  # type: ignore[method-assign]
        app.open_run(top)  # Enter on the first row
        await wait_until(pilot, lambda: charted, what="the chart")
        assert follower.snapshots_built == 1  # the one read ahead: nothing read or built at the key
