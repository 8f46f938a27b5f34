"""The launch form (Pilot): validate shows the resolved config, a typo names the key and starts
nothing, launch starts a real supervised run, the model picker fills renderer and learning rate,
``e`` clones a run's spec into the form. Real subprocesses throughout (the runner's self-test job)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Input, Select

from runner.control import state_dir
from runner.control.testing import SELFTEST_JOB, launch_job, status, steps, wait_status
from tests.app.conftest import open_launch_form, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.screens.launch import LaunchScreen
from tui.widgets.run_table import RunTable

VALIDATE_TIMEOUT = 60.0


def _records() -> list[str]:
    return sorted(os.listdir(state_dir.runs_root()))


def _fill(form: LaunchScreen, **values: str) -> None:
    for key, value in values.items():
        form.query_one(f"#launch-{key}", Input).value = value


async def test_validate_shows_resolved_config_then_launches(ws: Path) -> None:
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        form = await open_launch_form(pilot, app)
        _fill(form, custom=SELFTEST_JOB, overrides="steps=6 step_seconds=0.01", name="formrun")
        await pilot.pause()
        assert form.query_one("#launch-go").disabled  # nothing validated yet
        await pilot.press("ctrl+l")
        assert _records() == []
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: form.valid_form is not None, VALIDATE_TIMEOUT, "validation")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "would start formrun" in text and "steps = 6" in text and "step_seconds = 0.01" in text
        assert "valid" in text
        assert _records() == []  # validation reserves nothing
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: not isinstance(app.screen, LaunchScreen), VALIDATE_TIMEOUT, "launch")
        run_id = state_dir.run_id_for(ws / "results" / "logs" / "formrun")
        await wait_until(pilot, lambda: status(run_id) in ("finished", "failed"), 60, "finish")
        assert steps(run_id) == list(range(6))
        path = str((ws / "results" / "logs" / "formrun").resolve())
        await wait_until(
            pilot,
            lambda: path in app.summaries and app.summaries[path].status == "finished",
            20,
            "finished in the list",
        )


async def test_override_typo_names_the_key_and_launches_nothing(ws: Path) -> None:
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        form = await open_launch_form(pilot, app)
        _fill(form, custom=SELFTEST_JOB, overrides="stepz=3", name="typo")
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: form.result is not None and not form.busy, VALIDATE_TIMEOUT, "validate"
        )
        assert form.result is not None and not form.result.ok
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "stepz" in text and "invalid" in text
        assert form.valid_form is None and form.query_one("#launch-go").disabled
        await pilot.press("ctrl+l")
        await pilot.pause(0.3)
        assert isinstance(app.screen, LaunchScreen) and not form.busy
        assert _records() == [] and not (ws / "results" / "logs" / "typo").exists()
        # fixing the key and validating again makes the form launchable; editing invalidates it
        _fill(form, overrides="steps=3")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: form.valid_form is not None, VALIDATE_TIMEOUT, "revalidate")
        assert form.can_launch()
        _fill(form, overrides="steps=4")
        await pilot.pause(0.2)
        assert not form.can_launch() and "changed since validation" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, LaunchScreen), what="form closed")
        assert _records() == []


async def test_model_picker_fills_renderer_and_suggested_lr(ws: Path) -> None:
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        form = await open_launch_form(pilot, app)
        select = form.query_one("#launch-model", Select)
        names = lambda: [str(value) for _, value in select._options]  # noqa: E731
        await wait_until(pilot, lambda: "Qwen/Qwen3-8B" in names(), 180, "the model lineup")
        select.value = "Qwen/Qwen3-8B"
        await pilot.pause(0.2)
        assert form.query_one("#launch-renderer", Input).value == "qwen3"
        lr = form.query_one("#launch-lr", Input).value
        assert lr and 1e-5 < float(lr) < 1e-3
        assert "hybrid" in screen_text(app)  # the model's type is in its label


async def test_e_clones_a_runs_spec_into_the_form(ws: Path) -> None:
    run_id = launch_job(ws, "steps=3", "step_seconds=0.01", name="orig")
    wait_status(run_id, "finished", "failed")
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
        assert app.screen.query_one(RunTable).selected_path()
        await pilot.press("e")
        form = await wait_until(
            pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen, what="form"
        )
        assert isinstance(form, LaunchScreen)
        values = form.form()
        assert values.recipe == SELFTEST_JOB and values.name == "orig-clone"
        assert values.overrides == "steps=3 step_seconds=0.01"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: form.valid_form is not None, VALIDATE_TIMEOUT, "validation")
        await pilot.pause(0.2)
        assert "would start orig-clone" in screen_text(app)


async def test_help_lists_the_control_keys_with_ids(ws: Path) -> None:
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 60)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        text = screen_text(app)
        for key, desc, bid in (
            ("n", "New run", "runs.new_run"),
            ("e", "Clone+edit", "runs.clone_run"),
            ("K", "Stop run", "runs.stop_run"),
            ("R", "Resume run", "runs.resume_run"),
            ("D", "Delete run", "runs.delete_run"),
        ):
            line = next((ln for ln in text.splitlines() if bid in ln), "")
            assert desc in line and f" {key} " in f" {line} ", (bid, text)


async def test_sweep_field_plans_and_launches_one_run_per_value(ws: Path) -> None:
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        form = await open_launch_form(pilot, app)
        _fill(form, custom=SELFTEST_JOB, overrides="step_seconds=0.01", name="sw", sweep="steps=2,3")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: form.valid_form is not None, VALIDATE_TIMEOUT, "validation")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "would start sw-steps2" in text and "valid: 2 runs" in text
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: not isinstance(app.screen, LaunchScreen), VALIDATE_TIMEOUT, "launch")
        ids = [state_dir.run_id_for(ws / "results" / "logs" / f"sw-steps{n}") for n in (2, 3)]
        for run_id, n in zip(ids, (2, 3), strict=True):
            await wait_until(pilot, lambda r=run_id: status(r) in ("finished", "failed"), 60, "finish")
            assert steps(run_id) == list(range(n))
