"""The launch form's Experiment switch (Pilot): the fields show, ``arithmetic`` is offered for the
arithmetic recipe, a bad eval set is named with its file and line before anything starts (a real
``tinkertop experiment --dry-run``), and launch calls ``api.start_experiment`` with the form's values.

The one fake: ``fake_start_experiment`` replaces ``api.start_experiment`` (the seam that would start a
detached training experiment); the real function is tested in ``tests/unit/test_api_experiment.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Switch

from runner import api
from runner.api import ExperimentStarted, LaunchForm
from tests.app.conftest import open_launch_form, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.screens.launch import LaunchScreen

VALIDATE_TIMEOUT = 90.0


async def _validate(pilot, form: LaunchScreen) -> None:  # type: ignore[no-untyped-def]
    form.result = None
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: form.result is not None and not form.busy, VALIDATE_TIMEOUT, "validation")
    await pilot.pause()


async def test_experiment_switch_validates_the_eval_set_and_starts_the_experiment(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[LaunchForm, Path]] = []

    def fake_start_experiment(form: LaunchForm, cwd: Path) -> ExperimentStarted:
        calls.append((form, cwd))
        results = cwd / (form.results_dir or api.RESULTS_DIR)
        return ExperimentStarted(results / api.EXPERIMENT_LOG, results, 4242, tuple(form.experiment_args()))

    monkeypatch.setattr(api, "start_experiment", fake_start_experiment)
    bad = ws / "held.jsonl"
    bad.write_text('{"question": "1+1", "answer": "2"}\n{"question": "2+2"}\n')
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(220, 60)) as pilot:
        form = await open_launch_form(pilot, app)
        assert form.form().recipe == "math_rl"
        assert not form.query_one("#launch-exp").display
        form.query_one("#launch-experiment", Switch).value = True
        await pilot.pause()
        assert form.query_one("#launch-exp").display
        assert form.query_one("#launch-eval-set", Input).value == "arithmetic"  # offered for math_rl
        assert form.query_one("#launch-results", Input).value == "results"  # the CLI's default
        assert "offered: arithmetic" in screen_text(app)

        form.query_one("#launch-eval-set", Input).value = str(bad)
        await _validate(pilot, form)
        assert form.result is not None and not form.result.ok
        assert f"{bad}:2:" in form.result.error and "stage plan failed" in form.result.error
        assert "held.jsonl:2:" in screen_text(app)
        assert form.query_one("#launch-go").disabled and not calls

        form.query_one("#launch-eval-set", Input).value = "arithmetic"
        form.query_one("#launch-max-examples", Input).value = "5"
        form.query_one("#launch-smoke", Switch).value = True
        await _validate(pilot, form)
        assert form.result is not None and form.result.ok, form.result.error
        name = form.result.runs[0].name
        assert "experiment (rl): base eval on arithmetic" in screen_text(app)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: not isinstance(app.screen, LaunchScreen), 20, "dismissed")
        ((started, cwd),) = calls
        assert cwd == ws
        assert started.experiment and started.smoke and not started.local
        assert (started.eval_set, started.max_examples, started.results_dir) == ("arithmetic", "5", "results")
        assert started.name == name  # the name the validation showed
        notes = [str(n.message) for n in app._notifications]
        assert any("pid 4242" in n and str(ws / "results" / "experiment.log") in n for n in notes), notes
