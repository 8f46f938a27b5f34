"""Alerts in the app (Pilot): a live run's row is flagged within one update of a bad line; the alerts
view (5) lists it with the evidence; ``a`` acknowledges it on disk and the flag clears; ``enter`` opens
the run's chart on the alert's metric; ``e`` on a real supervised run clones it with the learning rate
halved already in the launch form.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from textual.widgets import Input

from runner.control.testing import launch_job, wait_status
from tests.app.conftest import copy_run, wait_until
from tui.app import TinkertopApp
from tui.screens.alerts import AlertsScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.run_table import RunTable


def _append_nan(run: Path) -> int:
    """Append the next step with a NaN loss-like value, as a diverging trainer writes it."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    step = json.loads(lines[-1])["step"] + 1
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write(f'{{"step": {step}, "env/all/reward/total": 0.1, "optim/entropy": NaN}}\n')
    return step


async def test_nan_line_flags_the_row_alerts_view_lists_it_ack_clears_it(ws: Path) -> None:
    logs = ws / "results" / "logs"
    run = copy_run("rl_arith", logs)
    app = TinkertopApp([logs])
    async with app.run_test(size=(160, 40)) as pilot:
        path = str(run.resolve())
        await wait_until(pilot, lambda: app.loaded and path in app.summaries, what="full read")
        assert not app.summaries[path].alert_flag, app.summaries[path].alert_flag  # a healthy copy: quiet
        step = _append_nan(run)
        await wait_until(
            pilot, lambda: "NaN" in app.summaries[path].alert_flag, 20, "the row flagged after the NaN line"
        )
        assert app.summaries[path].alert_severity == "critical"
        table = app.runs_screen.query_one(RunTable)
        await wait_until(pilot, lambda: "NaN" in str(table.get_row(path)[-1]), what="Flags cell shows it")

        await pilot.press("5")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen) and app.screen)
        alerts = screen.query_one(AlertTable)
        await wait_until(pilot, lambda: alerts.alerts, what="alerts listed")
        nan = alerts.selected()
        assert nan is not None and nan.rule == "non_finite" and nan.metric == "optim/entropy"
        assert nan.first_step == step and nan.run_path == path

        await pilot.press("a")
        acks = ws / ".tinkertop" / "acks.json"
        await wait_until(pilot, lambda: acks.exists() and nan.key in acks.read_text(), what="ack on disk")
        await wait_until(pilot, lambda: not app.summaries[path].alert_flag, what="flag cleared by the ack")
        await wait_until(pilot, lambda: not alerts.alerts, what="acked alert hidden")
        await pilot.press("h")
        await wait_until(pilot, lambda: alerts.alerts and alerts.alerts[0].acked, what="shown again with h")

        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="run view at the alert")
        await wait_until(pilot, lambda: view.chart.keys == ["optim/entropy"], what="chart on the metric")
        assert view.chart.marker is not None and view.chart.marker.step == step  # where it began, drawn
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: view.alert_table.alerts, what="the run's Alerts tab lists it")
        assert view.alert_table.alerts[0].key == nan.key


async def test_a_flat_series_draws_flat_and_says_so(ws: Path) -> None:
    """Reward exactly 0 for 20 steps (with float dust): a rule in the list, a level line in the chart."""
    run = ws / "results" / "logs" / "pinned"
    run.mkdir()
    rows = [{"step": i, "env/all/reward/total": (1e-17 if i % 2 else 0.0), "optim/entropy": 1.0 - i / 40}
            for i in range(20)]  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 40)) as pilot:
        path = str(run.resolve())
        await wait_until(pilot, lambda: app.loaded and path in app.summaries, what="full read")
        table = app.runs_screen.query_one(RunTable)
        trend = str(table.get_cell(path, "trend"))
        assert trend == "─" * 12, trend
        app.open_run(path)
        view = await wait_until(pilot, app._run_view, what="run view")
        await wait_until(pilot, lambda: view.chart.flat_note, what="the chart says flat")
        assert view.chart.flat_note == "flat at 5.000e-18 (range 1.000e-17)", view.chart.flat_note


def test_spark_draws_flat_only_what_is_flat() -> None:
    from tui.format import spark

    assert spark([0.0] * 5) == "─" * 5
    assert spark([0.5, 0.5 + 1e-9, 0.5]) == "─" * 3  # a range a billionth of the values
    assert spark([0.0, float("nan"), 0.0]) == "─ ─"
    assert spark([0.0, 1.0]) == "▁█"  # a real change keeps the full scale
    assert spark([1e-4, 2e-4]) == "▁█"  # small values that really double are not flat


async def test_e_on_an_alert_clones_with_the_learning_rate_halved(ws: Path) -> None:
    run_id = launch_job(ws, "steps=10", "fail_at=3", "learning_rate=4e-4", name="diverged")
    wait_status(run_id, "failed")
    logs = ws / "results" / "logs"
    app = TinkertopApp([logs])
    async with app.run_test(size=(160, 40)) as pilot:
        path = str((logs / "diverged").resolve())
        await wait_until(
            pilot, lambda: path in app.summaries and app.summaries[path].alert_flag, 30, "crash flagged"
        )
        assert app.summaries[path].alert_severity == "critical"
        await pilot.press("5")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen) and app.screen)
        alerts = screen.query_one(AlertTable)
        await wait_until(pilot, lambda: any(a.rule == "crashed" for a in alerts.alerts), what="crash listed")
        alerts.move_cursor(row=[a.rule for a in alerts.alerts].index("crashed"))
        await pilot.press("e")
        field = await wait_until(
            pilot,
            lambda: app.screen.query("#launch-lr").first(Input) if app.screen.query("#launch-lr") else None,
        )
        assert field.value == "0.0002"


def test_flags_name_the_alert_and_the_unreadable_file() -> None:
    from runner.runs.summary import RunSummary
    from tui.widgets.run_table import flags

    row = RunSummary("/r", "r", "rl", "running", 3, None, None, None, [], None, 3, 0, {})
    assert flags(row) == ""
    row.alert_flag, row.unreadable = "NaN entropy", "config.json"
    assert flags(row) == "NaN entropy ⚠config.json"


async def test_view_keys_never_throw_away_an_open_launch_form(ws: Path) -> None:
    """``5``, ``1`` and ``2`` switch views only from a view: with focus on a switch of the launch form (not a
    text box, which would take the digit), the form and what was typed in it stay."""
    from textual.widgets import Switch

    from tui.screens.launch import LaunchScreen

    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("n")
        form = await wait_until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen)
        form.query_one("#launch-lr", Input).value = "3e-4"
        form.set_focus(form.query(Switch).first())
        for key in ("5", "1", "2"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is form, f"{key} replaced the form with {app.screen}"
        assert form.query_one("#launch-lr", Input).value == "3e-4"


async def test_alerts_view_lists_the_run_that_changed_last_first(ws: Path) -> None:
    logs = ws / "results" / "logs"
    older, newer = copy_run("rl_arith", logs / "a"), copy_run("rl_arith", logs / "b")
    for run, when in ((older, 1_700_000_000), (newer, 1_700_000_500)):
        _append_nan(run)
        for path in [run, *run.rglob("*")]:
            os.utime(path, (when, when))
    app = TinkertopApp([logs])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.all_alerts()) >= 2, what="both flagged")
        order = [a.run_path for a in app.all_alerts() if a.rule == "non_finite"]
        assert order == [str(newer.resolve()), str(older.resolve())], order
